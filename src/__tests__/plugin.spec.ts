import { PageConfig } from '@jupyterlab/coreutils';
import { nullTranslator } from '@jupyterlab/translation';
import { MessageLoop } from '@lumino/messaging';
import { act, waitFor, within } from '@testing-library/react';
import { Widget } from '@lumino/widgets';

import { paletteCommands, shellListsSidePanels } from '../commands';
import { needsPanelButton, SparkPanelButtonWidget } from '../panelButton';
import { sparkIcon } from '../icon';
import { SparkEnvironmentModel } from '../model';
import { CommandIDs } from '../tokens';
import { SparkEnvironmentWidget } from '../widget';
import { FakeClient } from './fakes';

const trans = nullTranslator.load('pexlab');

describe('the panel in JupyterLab and Notebook 7', () => {
  it('carries its icon and caption, whatever the shell', () => {
    const model = new SparkEnvironmentModel({ client: new FakeClient() });
    const widget = new SparkEnvironmentWidget(model, trans, {
      onBuild: jest.fn(),
      onInsertCells: jest.fn(),
      onCopy: jest.fn(),
      onInstallPexlab: jest.fn()
    });
    expect(widget.title.icon).toBe(sparkIcon);
    expect(widget.title.caption).toBe('Spark environment');
    widget.dispose();
    model.dispose();
  });

  it('lists "Show Spark environment" once: the shell\'s entry in Notebook 7, ours in JupyterLab', () => {
    expect(shellListsSidePanels()).toBe(false);
    expect(paletteCommands(false)).toContain(CommandIDs.show);
    PageConfig.setOption('notebookPage', 'notebooks');
    try {
      expect(shellListsSidePanels()).toBe(true);
      // Notebook 7 lists "Show <caption>" for every side panel itself.
      expect(paletteCommands(true)).not.toContain(CommandIDs.show);
      expect(paletteCommands(true)).toContain(CommandIDs.build);
    } finally {
      PageConfig.setOption('notebookPage', '');
    }
  });
});

describe("Notebook 7's button to the panel", () => {
  // Notebook 7's shell: a collapsible right area, no LabShell (so no side tab bars).
  const notebookShell = { shell: { expandRight: () => undefined } };

  it('is added only on a Notebook 7 notebook page', () => {
    PageConfig.setOption('notebookPage', 'notebooks');
    try {
      expect(needsPanelButton(notebookShell)).toBe(true);
      // A shell without side areas, or none at all.
      expect(needsPanelButton({ shell: {} })).toBe(false);
      expect(needsPanelButton({ shell: null })).toBe(false);
      PageConfig.setOption('notebookPage', 'tree');
      // Notebook 7's file browser: no kernel to show the environment of.
      expect(needsPanelButton(notebookShell)).toBe(false);
    } finally {
      PageConfig.setOption('notebookPage', '');
    }
    // JupyterLab sets no notebookPage.
    expect(needsPanelButton(notebookShell)).toBe(false);
  });

  it('is a labelled toggle that follows the panel and runs its action', async () => {
    const model = new SparkEnvironmentModel({ client: new FakeClient() });
    const onClick = jest.fn();
    const widget = new SparkPanelButtonWidget(
      model,
      'Show Spark environment',
      onClick
    );
    // ReactWidget renders through React's root: updates inside act(), as a user's would be.
    await act(async () => {
      Widget.attach(widget, document.body);
      MessageLoop.sendMessage(widget, Widget.Msg.UpdateRequest);
    });
    const button = await waitFor(() => within(widget.node).getByRole('button'));
    expect(button.getAttribute('aria-label')).toBe('Show Spark environment');
    expect(button.getAttribute('title')).toBe('Show Spark environment');
    expect(button.getAttribute('aria-pressed')).toBe('false');
    expect(button.querySelector('[data-icon="pexlab:spark"]')).not.toBeNull();

    // The panel shown: pressed, without a manual update (the model's signal).
    await act(async () => {
      model.setVisible(true);
    });
    await waitFor(() =>
      expect(
        within(widget.node).getByRole('button').getAttribute('aria-pressed')
      ).toBe('true')
    );
    within(widget.node).getByRole('button').click();
    expect(onClick).toHaveBeenCalledTimes(1);

    act(() => {
      Widget.detach(widget);
      widget.dispose();
    });
    model.dispose();
  });
});
