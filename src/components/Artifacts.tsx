import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { IArtifactFile, IArtifactRecord, IBuild } from '../tokens';
import { formatAge, formatBytes } from './format';

export interface IArtifactsProps {
  /** Cached builds for this interpreter, newest first. */
  records: IArtifactRecord[];
  /** The last build of this environment (its artifacts carry editable zips). */
  build: IBuild | null;
  error: string | null;
  trans: TranslationBundle;
  onCopy: (text: string) => void;
}

function CopyButton(props: {
  text: string;
  trans: TranslationBundle;
  onCopy: (text: string) => void;
}): JSX.Element {
  return (
    <button
      type="button"
      className="pexlab-LinkButton pexlab-CopyButton"
      aria-label={props.trans.__('Copy %1', props.text)}
      title={props.trans.__('Copy location')}
      onClick={() => props.onCopy(props.text)}
    >
      {props.trans.__('Copy')}
    </button>
  );
}

function Location(props: {
  text: string;
  trans: TranslationBundle;
  onCopy: (text: string) => void;
}): JSX.Element {
  return (
    <div className="pexlab-Artifact-location">
      <code title={props.text}>{props.text}</code>
      <CopyButton {...props} />
    </div>
  );
}

function FileRow(props: {
  file: IArtifactFile;
  builtAt: number | string | null | undefined;
  trans: TranslationBundle;
  onCopy: (t: string) => void;
}): JSX.Element {
  const { file, trans } = props;
  const age = formatAge(props.builtAt);
  return (
    <li className="pexlab-Artifact" data-kind={file.kind}>
      <div className="pexlab-Artifact-head">
        <span className="pexlab-Artifact-kind">
          {file.kind === 'pex' ? trans.__('PEX') : trans.__('editable zip')}
        </span>
        <span className="pexlab-Artifact-name">{file.name}</span>
        <span className="pexlab-Artifact-size">{formatBytes(file.size)}</span>
        {age && (
          <span className="pexlab-Artifact-age">{trans.__('%1 ago', age)}</span>
        )}
      </div>
      {file.url && (
        <Location text={file.url} trans={trans} onCopy={props.onCopy} />
      )}
      {!file.url && file.local_path && (
        <Location text={file.local_path} trans={trans} onCopy={props.onCopy} />
      )}
    </li>
  );
}

/** PEX and editable zips of this environment: size, age, where they were uploaded. */
export function Artifacts(props: IArtifactsProps): JSX.Element | null {
  const { records, build, trans } = props;
  const result = build?.state === 'succeeded' ? build.artifacts : null;
  if (!result && records.length === 0 && !props.error) {
    return null;
  }
  return (
    <section className="pexlab-Artifacts" aria-label={trans.__('Artifacts')}>
      <h3 className="pexlab-SectionTitle">{trans.__('Artifacts')}</h3>
      {props.error && <p className="pexlab-Error">{props.error}</p>}
      <ul className="pexlab-Artifacts-list">
        {result && (
          <>
            <FileRow
              file={result.pex}
              builtAt={build?.finished_at}
              trans={trans}
              onCopy={props.onCopy}
            />
            {result.editables.map(e => (
              <FileRow
                key={e.name}
                file={e}
                builtAt={build?.finished_at}
                trans={trans}
                onCopy={props.onCopy}
              />
            ))}
          </>
        )}
        {records
          .filter(r => !result || r.fingerprint !== result.fingerprint)
          .map(r => (
            <li
              key={r.fingerprint}
              className="pexlab-Artifact"
              data-kind="cached"
            >
              <div className="pexlab-Artifact-head">
                <span className="pexlab-Artifact-kind">{trans.__('PEX')}</span>
                <span className="pexlab-Artifact-name" title={r.fingerprint}>
                  {r.fingerprint.slice(0, 12)}
                </span>
                <span className="pexlab-Artifact-size">
                  {formatBytes(r.size)}
                </span>
                <span className="pexlab-Artifact-age">
                  {trans.__('%1 ago', formatAge(r.built_at))}
                </span>
              </div>
              {Object.values(r.uploads ?? {}).map(url => (
                <Location
                  key={url}
                  text={url}
                  trans={trans}
                  onCopy={props.onCopy}
                />
              ))}
              {Object.keys(r.uploads ?? {}).length === 0 && (
                <Location
                  text={r.pex_path}
                  trans={trans}
                  onCopy={props.onCopy}
                />
              )}
            </li>
          ))}
      </ul>
    </section>
  );
}
