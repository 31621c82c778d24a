import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { INSTALL_PEXLAB, shippingSentence } from '../cells';
import type { IExcludedPackage, ISetupPlan } from '../tokens';

/**
 * The master and storage the cells and builds use, each with the server's reason when it
 * cannot be used (`build.errors`), right next to the value.
 */
export function SettingsCheck(props: {
  plan: ISetupPlan;
  trans: TranslationBundle;
}): JSX.Element {
  const { plan, trans } = props;
  const rows: [string, string, string | null, string | undefined][] = [
    ['master', trans.__('Spark master'), plan.master, plan.errors.master],
    ['storage', trans.__('Storage'), plan.storage, plan.errors.storage]
  ];
  return (
    <dl className="pexlab-Settings" aria-label={trans.__('Settings in use')}>
      {rows.map(([key, label, value, error]) => (
        <div
          key={key}
          className="pexlab-Setting"
          data-setting={key}
          data-invalid={error ? 'true' : undefined}
        >
          <dt>{label}</dt>
          <dd>
            <code>{value || trans.__('(none: kept in the local cache)')}</code>
            {error && (
              <p className="pexlab-Error pexlab-SettingError" role="alert">
                {error}
              </p>
            )}
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** Installed packages the PEX leaves out, each with why. */
export function ExcludedPackages(props: {
  excluded: IExcludedPackage[];
  trans: TranslationBundle;
}): JSX.Element | null {
  const { excluded, trans } = props;
  if (excluded.length === 0) {
    return null;
  }
  return (
    <section className="pexlab-Excluded" aria-label={trans.__('Not shipped')}>
      <h3 className="pexlab-SectionTitle">{trans.__('Not shipped')}</h3>
      <ul className="pexlab-Excluded-list">
        {excluded.map(p => (
          <li key={p.name} className="pexlab-Excluded-item" data-name={p.name}>
            <span className="pexlab-Excluded-name">
              {p.name} {p.version}
            </span>
            <span className="pexlab-Excluded-reason">{p.reason}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** What the setup cells will do with this environment (the same sentence as their markdown). */
export function Shipping(props: {
  plan: ISetupPlan;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { plan, trans } = props;
  if (!plan.master) {
    return null;
  }
  return (
    <section
      className="pexlab-Shipping"
      aria-label={trans.__('Setup cells')}
      data-kind={plan.kind ?? undefined}
    >
      <h3 className="pexlab-SectionTitle">{trans.__('Setup cells')}</h3>
      <p className="pexlab-Shipping-text">
        {shippingSentence(plan, trans).replace(/`/g, '')}
      </p>
    </section>
  );
}

export interface IPexlabMissingProps {
  trans: TranslationBundle;
  /** An install runs in the kernel. */
  installing: boolean;
  onInstall: () => void;
}

/**
 * The kernel cannot import pexlab: builds would work (the server builds), but the setup
 * cells would fail. Say so and offer the fix.
 */
export function PexlabMissing(props: IPexlabMissingProps): JSX.Element {
  const { trans } = props;
  return (
    <section
      className="pexlab-Missing"
      role="alert"
      aria-label={trans.__('pexlab missing')}
    >
      <p className="pexlab-Missing-text">
        {trans.__(
          "This kernel's environment lacks pexlab, so the setup cells cannot create a Spark session. Install it into the kernel with %1, then run the cells.",
          INSTALL_PEXLAB
        )}
      </p>
      <button
        type="button"
        className="pexlab-Button pexlab-Button-primary pexlab-InstallButton"
        disabled={props.installing}
        onClick={props.onInstall}
        title={trans.__('Run %1 in this kernel', INSTALL_PEXLAB)}
      >
        {props.installing
          ? trans.__('Installing pexlab…')
          : trans.__('Install pexlab in this kernel')}
      </button>
    </section>
  );
}
