import type { LabIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

export interface IPanelButtonProps {
  icon: LabIcon;
  /** Tooltip and accessible name (already translated). */
  label: string;
  /** Is the panel shown? Announced as a toggle button's state. */
  pressed: boolean;
  onClick: () => void;
}

/**
 * An icon button that shows or hides the Spark environment panel: Notebook 7 draws no side
 * tab bar, so the panel's own icon would never be seen there.
 */
export function PanelButton(props: IPanelButtonProps): JSX.Element {
  return (
    <button
      type="button"
      className="pexlab-PanelButton"
      aria-label={props.label}
      aria-pressed={props.pressed}
      title={props.label}
      onClick={props.onClick}
    >
      <props.icon.react tag="span" className="pexlab-PanelButton-icon" />
    </button>
  );
}
