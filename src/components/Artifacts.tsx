import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type {
  IArtifactFile,
  IArtifactRecord,
  IBuild,
  IEditableZip
} from '../tokens';
import { formatAge, formatBytes } from './format';

export interface IArtifactsProps {
  /** Cached builds for this interpreter, newest first. */
  records: IArtifactRecord[];
  /** The last build of this environment (its artifacts carry editable zips). */
  build: IBuild | null;
  /** Fingerprint of the PEX the environment's state refers to (marked "current"). */
  current: string | null;
  error: string | null;
  /** The cache's editable zips of this kernel's projects (current or stale). */
  zips?: IEditableZip[];
  trans: TranslationBundle;
  onCopy: (text: string) => void;
  /** Current time (s since the epoch): ages tick with it. */
  now: number;
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

function CurrentBadge(props: { trans: TranslationBundle }): JSX.Element {
  return (
    <span
      className="pexlab-Badge pexlab-Badge-current"
      title={props.trans.__("The PEX of the kernel's environment as it is")}
    >
      {props.trans.__('current')}
    </span>
  );
}

function ZipRow(props: {
  zip: IEditableZip;
  trans: TranslationBundle;
  onCopy: (t: string) => void;
  now: number;
}): JSX.Element {
  const { zip, trans } = props;
  return (
    <li
      className="pexlab-Artifact"
      data-kind="editable-zip"
      data-current={zip.current ? 'true' : undefined}
      data-stale={zip.stale ? 'true' : undefined}
    >
      <div className="pexlab-Artifact-head">
        <span className="pexlab-Artifact-kind">{trans.__('editable zip')}</span>
        {zip.current && (
          <span
            className="pexlab-Badge pexlab-Badge-current"
            title={trans.__("The zip of the project's code as it is now")}
          >
            {trans.__('current')}
          </span>
        )}
        {zip.stale && (
          <span
            className="pexlab-Badge pexlab-Badge-stale"
            title={trans.__('An older version of the project %1', zip.project)}
          >
            {trans.__('stale')}
          </span>
        )}
        <span className="pexlab-Artifact-name">{zip.name}</span>
        <span className="pexlab-Artifact-size">{formatBytes(zip.size)}</span>
        <span className="pexlab-Artifact-age">
          {trans.__('%1 ago', formatAge(zip.modified_at, props.now, trans))}
        </span>
      </div>
      <Location text={zip.path} trans={trans} onCopy={props.onCopy} />
    </li>
  );
}

function baseName(path: string): string {
  const parts = path.split(/[/\\]/);
  return parts[parts.length - 1] || path;
}

function FileRow(props: {
  file: IArtifactFile;
  builtAt: number | string | null | undefined;
  isCurrent: boolean;
  trans: TranslationBundle;
  onCopy: (t: string) => void;
  now: number;
}): JSX.Element {
  const { file, trans } = props;
  const age = formatAge(props.builtAt, props.now, trans);
  return (
    <li
      className="pexlab-Artifact"
      data-kind={file.kind}
      data-current={props.isCurrent ? 'true' : undefined}
    >
      <div className="pexlab-Artifact-head">
        <span className="pexlab-Artifact-kind">
          {file.kind === 'pex' ? trans.__('PEX') : trans.__('editable zip')}
        </span>
        {props.isCurrent && <CurrentBadge trans={trans} />}
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

function RecordRow(props: {
  record: IArtifactRecord;
  isCurrent: boolean;
  trans: TranslationBundle;
  onCopy: (t: string) => void;
  now: number;
}): JSX.Element {
  const { record: r, trans } = props;
  const uploads = Object.values(r.uploads);
  const layers = r.layers ?? [];
  // A layered build ships its launcher and its layers: the environment is all of them.
  const size = layers.reduce((total, layer) => total + layer.size, r.size);
  return (
    <li
      className="pexlab-Artifact"
      data-kind="cached"
      data-fingerprint={r.fingerprint}
      data-current={props.isCurrent ? 'true' : undefined}
    >
      <div className="pexlab-Artifact-head">
        <span className="pexlab-Artifact-kind">
          {layers.length
            ? trans.__('PEX in %1 layers', layers.length)
            : trans.__('PEX')}
        </span>
        {props.isCurrent && <CurrentBadge trans={trans} />}
        <span className="pexlab-Artifact-name" title={r.fingerprint}>
          {baseName(r.pex_path)}
        </span>
        <span className="pexlab-Artifact-size">{formatBytes(size)}</span>
        <span className="pexlab-Artifact-age">
          {trans.__('%1 ago', formatAge(r.built_at, props.now, trans))}
        </span>
      </div>
      {uploads.map(url => (
        <Location key={url} text={url} trans={trans} onCopy={props.onCopy} />
      ))}
      {uploads.length === 0 && (
        <Location text={r.pex_path} trans={trans} onCopy={props.onCopy} />
      )}
    </li>
  );
}

/**
 * PEX and editable zips of this environment: size, age, where they were uploaded. The last
 * build's files come first; then every cached PEX of this interpreter, wherever it was
 * built (panel, kernel, CLI). The one matching the environment now is marked "current".
 */
export function Artifacts(props: IArtifactsProps): JSX.Element | null {
  const { records, build, trans, current } = props;
  const result = build?.state === 'succeeded' ? build.artifacts : null;
  const shipped = new Set(result?.editables.map(e => e.name) ?? []);
  const zips = (props.zips ?? []).filter(
    z => (z.current || z.stale) && !shipped.has(z.name)
  );
  if (!result && records.length === 0 && zips.length === 0 && !props.error) {
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
              isCurrent={!!current && result.fingerprint === current}
              trans={trans}
              onCopy={props.onCopy}
              now={props.now}
            />
            {result.editables.map(e => (
              <FileRow
                key={e.name}
                file={e}
                builtAt={build?.finished_at}
                isCurrent={
                  !!props.zips?.find(z => z.name === e.name && z.current)
                }
                trans={trans}
                onCopy={props.onCopy}
                now={props.now}
              />
            ))}
          </>
        )}
        {records
          .filter(r => !result || r.fingerprint !== result.fingerprint)
          .map(r => (
            <RecordRow
              key={r.fingerprint}
              record={r}
              isCurrent={!!current && r.fingerprint === current}
              trans={trans}
              onCopy={props.onCopy}
              now={props.now}
            />
          ))}
        {zips.map(z => (
          <ZipRow
            key={z.name}
            zip={z}
            trans={trans}
            onCopy={props.onCopy}
            now={props.now}
          />
        ))}
      </ul>
    </section>
  );
}
