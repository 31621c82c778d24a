import { PageConfig } from '@jupyterlab/coreutils';
import { nullTranslator } from '@jupyterlab/translation';

import { paletteCommands, shellListsSidePanels } from '../commands';
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
