import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { INSTALL_PEXLAB, shippingSentence } from '../cells';
import type { ISetupPlan } from '../tokens';

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
