import { nullTranslator } from '@jupyterlab/translation';
import { fireEvent, render, screen, within } from '@testing-library/react';
import * as React from 'react';

import { BuildControls } from '../components/BuildProgress';
import { DEFAULT_SETTINGS, setupPlan } from '../cells';
import { EnvironmentPanel } from '../components/EnvironmentPanel';
import {
  formatAge,
  formatBytes,
  formatDuration,
  pathParts,
  toSeconds
} from '../components/format';
import { failureToastText } from '../notify';
import { PackageList, ROW_HEIGHT } from '../components/PackageList';
import { PexStatus } from '../components/PexStatus';
import type { IModelState } from '../tokens';
import {
  KERNEL,
  artifactFile,
  artifactRecord,
  build,
  buildArtifacts,
  dist,
  environment,
  pex,
  resolved
} from './fakes';

const trans = nullTranslator.load('pexlab');
const NOW = 1_700_000_000;

function rowNames(container: HTMLElement): string[] {
  return Array.from(container.querySelectorAll('.pexlab-PackageList-row')).map(
    r => r.getAttribute('data-package') ?? ''
  );
}

describe('PackageList', () => {
  const packages = [
    dist('requests', '2.32.3'),
    dist('numpy', '2.1.0'),
    dist('my-project', '0.1.0', '/home/me/my-project'),
    dist('Pandas', '10.0')
  ];

  it('lists every package sorted by name with versions', () => {
    const { container } = render(
      <PackageList packages={packages} trans={trans} />
    );
    expect(rowNames(container)).toEqual([
      'my-project',
      'numpy',
      'Pandas',
      'requests'
    ]);
    expect(screen.getByText('2.32.3')).toBeTruthy();
    expect(screen.getByText('4 of 4 packages · 1 editable')).toBeTruthy();
  });

  it('shows the editable badge and project folder only for editable installs', () => {
    const { container } = render(
      <PackageList packages={packages} trans={trans} />
    );
    const badges = container.querySelectorAll('.pexlab-Badge-editable');
    expect(badges).toHaveLength(1);
    const row = container.querySelector(
      '[data-package="my-project"]'
    ) as HTMLElement;
    expect(within(row).getByText('editable')).toBeTruthy();
    expect(within(row).getByText('/home/me/my-project')).toBeTruthy();
    const numpy = container.querySelector(
      '[data-package="numpy"]'
    ) as HTMLElement;
    expect(numpy.querySelector('.pexlab-Badge-editable')).toBeNull();
  });

  it('filters by name, case-insensitively, and says when nothing matches', () => {
    const { container } = render(
      <PackageList packages={packages} trans={trans} />
    );
    const input = screen.getByLabelText('Filter packages');
    fireEvent.change(input, { target: { value: 'PAN' } });
    expect(rowNames(container)).toEqual(['Pandas']);
    fireEvent.change(input, { target: { value: 'editable' } });
    expect(rowNames(container)).toEqual(['my-project']);
    fireEvent.change(input, { target: { value: 'zzz' } });
    expect(rowNames(container)).toEqual([]);
    expect(screen.getByText('No package matches “zzz”.')).toBeTruthy();
  });

  it('sorts by version (numerically), editable first, and reverses on a second click', () => {
    const { container } = render(
      <PackageList packages={packages} trans={trans} />
    );
    fireEvent.click(screen.getByRole('button', { name: 'Sort by Version' }));
    expect(rowNames(container)).toEqual([
      'my-project',
      'numpy',
      'requests',
      'Pandas'
    ]);
    fireEvent.click(screen.getByRole('button', { name: 'Sort by Version' }));
    expect(rowNames(container)).toEqual([
      'Pandas',
      'requests',
      'numpy',
      'my-project'
    ]);
    fireEvent.click(screen.getByRole('button', { name: 'Sort by Editable' }));
    expect(rowNames(container)[0]).toBe('my-project');
    expect(
      screen
        .getByRole('button', { name: 'Sort by Editable' })
        .getAttribute('aria-pressed')
    ).toBe('true');
  });

  it('filters names as packaging compares them (PEP 503)', () => {
    const { container } = render(
      <PackageList
        packages={[
          dist('fakepkg-99'),
          dist('zope.interface'),
          dist('typing_extensions')
        ]}
        trans={trans}
      />
    );
    const input = screen.getByLabelText('Filter packages');
    fireEvent.change(input, { target: { value: 'fakepkg_99' } });
    expect(rowNames(container)).toEqual(['fakepkg-99']);
    fireEvent.change(input, { target: { value: 'Zope-Interface' } });
    expect(rowNames(container)).toEqual(['zope.interface']);
    fireEvent.change(input, { target: { value: 'typing.ext' } });
    expect(rowNames(container)).toEqual(['typing_extensions']);
  });

  it('sorts names in natural order', () => {
    const { container } = render(
      <PackageList
        packages={[
          'fakepkg-959',
          'fakepkg-96',
          'fakepkg-1000',
          'fakepkg-9'
        ].map(n => dist(n))}
        trans={trans}
      />
    );
    expect(rowNames(container)).toEqual([
      'fakepkg-9',
      'fakepkg-96',
      'fakepkg-959',
      'fakepkg-1000'
    ]);
  });

  describe('with 10,000 packages', () => {
    const many = Array.from({ length: 10000 }, (_, i) =>
      dist(`fakepkg-${i}`, `1.${i}`, i % 1000 === 0 ? `/src/p${i}` : null)
    );

    it('renders only the rows in view and filters all of them', () => {
      const { container } = render(
        <PackageList packages={many} trans={trans} />
      );
      const rows = container.querySelectorAll('.pexlab-PackageList-row');
      expect(rows.length).toBeGreaterThan(10);
      expect(rows.length).toBeLessThan(100);
      expect(rowNames(container).slice(0, 3)).toEqual([
        'fakepkg-0',
        'fakepkg-1',
        'fakepkg-2'
      ]);
      // Screen readers still hear the whole list's size.
      expect(rows[0].getAttribute('aria-setsize')).toBe('10000');
      expect(
        screen.getByText('10000 of 10000 packages · 10 editable')
      ).toBeTruthy();
      fireEvent.change(screen.getByLabelText('Filter packages'), {
        target: { value: 'fakepkg_999' }
      });
      // fakepkg-999 and fakepkg-9990 ... fakepkg-9999
      expect(
        screen.getByText('11 of 10000 packages · 10 editable')
      ).toBeTruthy();
      expect(rowNames(container)).toHaveLength(11);
    });

    it('changes the rendered rows as the list scrolls, by mouse or keyboard', () => {
      const { container } = render(
        <PackageList packages={many} trans={trans} />
      );
      const viewport = screen.getByRole('region', { name: 'Package list' });
      expect(viewport.tabIndex).toBe(0);
      fireEvent.scroll(viewport, {
        target: { scrollTop: 5000 * ROW_HEIGHT }
      });
      let names = rowNames(container);
      expect(names).toContain('fakepkg-5000');
      expect(names).not.toContain('fakepkg-0');
      expect(names.length).toBeLessThan(100);

      fireEvent.keyDown(viewport, { key: 'Home' });
      expect(rowNames(container)[0]).toBe('fakepkg-0');
      fireEvent.keyDown(viewport, { key: 'PageDown' });
      fireEvent.keyDown(viewport, { key: 'PageDown' });
      fireEvent.keyDown(viewport, { key: 'ArrowDown' });
      names = rowNames(container);
      expect(names).not.toContain('fakepkg-0');
      expect(names).toContain('fakepkg-40');
      fireEvent.keyDown(viewport, { key: 'End' });
      names = rowNames(container);
      expect(names[names.length - 1]).toBe('fakepkg-9999');
    });

    it('keeps its place when the packages are re-read, and goes to the top for a new filter', () => {
      const { container, rerender } = render(
        <PackageList packages={many} trans={trans} />
      );
      const viewport = screen.getByRole('region', { name: 'Package list' });
      fireEvent.scroll(viewport, { target: { scrollTop: 300 * ROW_HEIGHT } });
      // A refresh: the same packages in new objects.
      rerender(<PackageList packages={[...many]} trans={trans} />);
      expect(rowNames(container)).toContain('fakepkg-300');
      fireEvent.change(screen.getByLabelText('Filter packages'), {
        target: { value: 'fakepkg-1' }
      });
      expect(rowNames(container)[0]).toBe('fakepkg-1');
    });
  });
});

describe('PexStatus', () => {
  it('lists the difference of a stale environment', () => {
    render(
      <PexStatus
        view="stale"
        pex={pex('stale', {
          added: [{ name: 'tabulate', version: '0.9.0' }],
          removed: [{ name: 'six', version: '1.16.0' }],
          changed: [{ name: 'numpy', old: '2.0.0', new: '2.1.0' }],
          editables_changed: [
            { name: 'demo', change: 'moved', project_dir: '/x' }
          ]
        })}
        trans={trans}
        now={NOW}
      />
    );
    expect(screen.getByRole('status').textContent).toBe('Stale');
    expect(screen.getByText('added tabulate 0.9.0')).toBeTruthy();
    expect(screen.getByText('removed six 1.16.0')).toBeTruthy();
    expect(screen.getByText('numpy 2.0.0 → 2.1.0')).toBeTruthy();
    expect(screen.getByText('editable demo moved')).toBeTruthy();
  });

  it('ticks "built N ago" with the clock it is given', () => {
    const up = pex('up-to-date', { built_at: NOW - 5 });
    const { rerender } = render(
      <PexStatus view="up-to-date" pex={up} trans={trans} now={NOW} />
    );
    expect(screen.getByText('built 5 s ago')).toBeTruthy();
    rerender(
      <PexStatus view="up-to-date" pex={up} trans={trans} now={NOW + 70} />
    );
    expect(screen.getByText('built 1 min 15 s ago')).toBeTruthy();
  });

  it('explains a missing PEX', () => {
    render(
      <PexStatus view="missing" pex={pex('missing')} trans={trans} now={NOW} />
    );
    expect(screen.getByRole('status').textContent).toBe('Not built');
    expect(screen.getByText(/No PEX has been built/)).toBeTruthy();
  });
});

describe('BuildControls', () => {
  const noop = () => undefined;

  it('names an earlier job returned for a request "Already built", without its time', () => {
    const props = {
      canBuild: true,
      buildError: null,
      trans,
      onBuild: noop,
      onCancel: noop,
      onInsertCells: noop,
      logOpen: false,
      onToggleLog: noop,
      now: NOW
    };
    const old = build({
      state: 'succeeded',
      progress: 1,
      started_at: new Date((NOW - 60) * 1000).toISOString(),
      finished_at: new Date((NOW - 48) * 1000).toISOString()
    });
    const { rerender } = render(
      <BuildControls build={{ ...old, created: false }} {...props} />
    );
    expect(screen.getByText('Already built')).toBeTruthy();
    expect(screen.queryByText('Done')).toBeNull();
    expect(screen.queryByLabelText('Elapsed time')).toBeNull();
    // Control: the same job as a request's own result.
    rerender(<BuildControls build={old} {...props} />);
    expect(screen.getByText('Done')).toBeTruthy();
    expect(screen.getByLabelText('Elapsed time')).toBeTruthy();
  });

  it('disables Build while building and offers Cancel, progress and the log', () => {
    const onCancel = jest.fn();
    let logOpen = false;
    const onToggleLog = jest.fn((open: boolean) => {
      logOpen = open;
    });
    const running = build({
      progress: 0.42,
      phase: 'build',
      log: ['pex: resolving', 'pex: done']
    });
    const { rerender } = render(
      <BuildControls
        build={running}
        canBuild={true}
        buildError={null}
        trans={trans}
        onBuild={noop}
        onCancel={onCancel}
        onInsertCells={noop}
        logOpen={logOpen}
        onToggleLog={onToggleLog}
        now={NOW}
      />
    );
    expect(
      (
        screen.getByRole('button', {
          name: 'Build & upload'
        }) as HTMLButtonElement
      ).disabled
    ).toBe(true);
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe(
      '42'
    );
    expect(screen.getByText('Building the PEX')).toBeTruthy();
    // Which job is on screen, for the Galata check that no earlier job is shown as a result.
    const status = document.querySelector('.pexlab-Build-status')!;
    expect(status.getAttribute('data-build-id')).toBe(running.id);
    expect(status.getAttribute('data-build-state')).toBe(running.state);
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(onCancel).toHaveBeenCalledTimes(1);
    expect(screen.queryByText(/pex: resolving/)).toBeNull();
    const toggle = screen.getByRole('button', { name: 'Show log' });
    fireEvent.click(toggle);
    expect(onToggleLog).toHaveBeenCalledWith(true);
    // The open state lives in the model: the component shows what it is given.
    rerender(
      <BuildControls
        build={running}
        canBuild={true}
        buildError={null}
        trans={trans}
        onBuild={noop}
        onCancel={onCancel}
        onInsertCells={noop}
        logOpen={logOpen}
        onToggleLog={onToggleLog}
        now={NOW}
      />
    );
    expect(screen.getByText(/pex: resolving/)).toBeTruthy();
    expect(
      screen
        .getByRole('button', { name: 'Hide log' })
        .getAttribute('aria-expanded')
    ).toBe('true');
  });

  it('enables Build when idle and shows failures', () => {
    const onBuild = jest.fn();
    const onInsert = jest.fn();
    render(
      <BuildControls
        build={build({ state: 'failed', error: 'pex failed: boom' })}
        canBuild={true}
        buildError={null}
        trans={trans}
        onBuild={onBuild}
        onCancel={noop}
        onInsertCells={onInsert}
        logOpen={false}
        onToggleLog={noop}
        now={NOW}
      />
    );
    fireEvent.click(screen.getByRole('button', { name: 'Build & upload' }));
    fireEvent.click(screen.getByRole('button', { name: 'Insert setup cells' }));
    expect(onBuild).toHaveBeenCalledTimes(1);
    expect(onInsert).toHaveBeenCalledTimes(1);
    expect(screen.getByRole('alert').textContent).toBe('pex failed: boom');
    expect(screen.queryByRole('button', { name: 'Cancel' })).toBeNull();
  });

  it("shows a failure's last log line when the server gave no error", () => {
    render(
      <BuildControls
        build={build({
          state: 'failed',
          error: null,
          log: ['resolving', 'OSError: [Errno 28] No space left on device', '']
        })}
        canBuild={true}
        buildError={null}
        trans={trans}
        onBuild={noop}
        onCancel={noop}
        onInsertCells={noop}
        logOpen={false}
        onToggleLog={noop}
        now={NOW}
      />
    );
    expect(screen.getByRole('alert').textContent).toBe(
      'OSError: [Errno 28] No space left on device'
    );
  });
});

describe('failureToastText', () => {
  it("carries the server's message", () => {
    expect(
      failureToastText(
        build({ state: 'failed', error: "Cannot write to 'file:///proc/x'" }),
        trans
      )
    ).toBe("Spark environment build failed: Cannot write to 'file:///proc/x'");
    expect(
      failureToastText(build({ state: 'failed', error: null, log: [] }), trans)
    ).toBe('Spark environment build failed (no message: see the log).');
  });
});

function state(extra: Partial<IModelState>): IModelState {
  return {
    kernel: { id: KERNEL, label: 'Python (demo) · demo.ipynb' },
    status: 'ready',
    environment: environment(),
    error: null,
    refreshError: null,
    build: null,
    buildError: null,
    settings: DEFAULT_SETTINGS,
    artifacts: [],
    editableZips: [],
    artifactsError: null,
    ...extra
  };
}

function panelProps(s: IModelState) {
  return {
    state: s,
    plan: setupPlan(s.settings, s.environment),
    now: NOW,
    trans
  };
}

describe('EnvironmentPanel', () => {
  const callbacks = {
    onRefresh: jest.fn(),
    onBuild: jest.fn(),
    onCancel: jest.fn(),
    onInsertCells: jest.fn(),
    onCopy: jest.fn(),
    onToggleLog: jest.fn(),
    onInstallPexlab: jest.fn(),
    installing: false,
    logOpen: false
  };

  it('asks for a kernel when there is none', () => {
    render(
      <EnvironmentPanel
        {...panelProps(
          state({ kernel: null, status: 'no-kernel', environment: null })
        )}
        pexView="unknown"
        {...callbacks}
      />
    );
    expect(screen.getByText(/No kernel/)).toBeTruthy();
  });

  it('shows the server error and retries', () => {
    render(
      <EnvironmentPanel
        {...panelProps(
          state({
            status: 'error',
            environment: null,
            error: 'Kernel is dead.'
          })
        )}
        pexView="unknown"
        {...callbacks}
      />
    );
    expect(screen.getByText('Kernel is dead.')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(callbacks.onRefresh).toHaveBeenCalled();
  });

  it('shows the header, the artifacts with copyable locations and the packages', () => {
    const artifactsBuild = build({
      state: 'succeeded',
      progress: 1,
      artifacts: buildArtifacts({
        pex: artifactFile({
          name: 'env-ffff.pex',
          url: 's3://bucket/env-ffff.pex',
          size: 5 * 1024 * 1024
        }),
        editables: [
          artifactFile({
            kind: 'editable',
            name: 'demo-0123456789ab.zip',
            local_path: '/cache/demo-0123456789ab.zip',
            url: 's3://bucket/demo-0123456789ab.zip',
            size: 2048
          })
        ]
      })
    });
    render(
      <EnvironmentPanel
        {...panelProps(state({ build: artifactsBuild }))}
        pexView="up-to-date"
        {...callbacks}
      />
    );
    const python = document.querySelector('.pexlab-Header-python code');
    expect(python?.textContent).toBe('/venv/bin/python');
    // One unbreakable run per folder, a break opportunity after each separator.
    expect(
      Array.from(python!.querySelectorAll('.pexlab-Path-part')).map(
        e => e.textContent
      )
    ).toEqual(['/', 'venv/', 'bin/', 'python']);
    expect(python!.querySelectorAll('wbr')).toHaveLength(4);
    expect(screen.getByText('3.11.7')).toBeTruthy();
    expect(screen.getByText('venv')).toBeTruthy();
    expect(screen.getByText('5.0 MB')).toBeTruthy();
    fireEvent.click(
      screen.getByRole('button', { name: 'Copy s3://bucket/env-ffff.pex' })
    );
    expect(callbacks.onCopy).toHaveBeenCalledWith('s3://bucket/env-ffff.pex');
    expect(screen.getByText('demo-0123456789ab.zip')).toBeTruthy();
    expect(document.querySelectorAll('.pexlab-PackageList-row')).toHaveLength(
      2
    );
  });
});

describe('EnvironmentPanel guidance and artifacts', () => {
  const callbacks = {
    onRefresh: jest.fn(),
    onBuild: jest.fn(),
    onCancel: jest.fn(),
    onInsertCells: jest.fn(),
    onCopy: jest.fn(),
    onToggleLog: jest.fn(),
    onInstallPexlab: jest.fn(),
    installing: false,
    logOpen: false
  };

  it('says the kernel lacks pexlab and offers to install it', () => {
    const env = environment({ pexlab: { installed: false, version: null } });
    render(
      <EnvironmentPanel
        {...panelProps(state({ environment: env }))}
        pexView="missing"
        {...callbacks}
      />
    );
    expect(screen.getByText(/lacks pexlab/).textContent).toContain(
      '%pip install pexlab'
    );
    const button = screen.getByRole('button', {
      name: 'Install pexlab in this kernel'
    });
    button.focus();
    expect(document.activeElement).toBe(button);
    fireEvent.click(button);
    expect(callbacks.onInstallPexlab).toHaveBeenCalledTimes(1);
  });

  it('says nothing about pexlab when the kernel has it', () => {
    const env = environment({ pexlab: { installed: true, version: '0.1.0' } });
    render(
      <EnvironmentPanel
        {...panelProps(state({ environment: env }))}
        pexView="missing"
        {...callbacks}
      />
    );
    expect(screen.queryByText(/lacks pexlab/)).toBeNull();
  });

  it('marks the current PEX among the cached ones, first', () => {
    const current = 'c'.repeat(64);
    const env = environment({
      pex: pex('up-to-date', { fingerprint: current, built_at: NOW - 10 }),
      build: resolved({ fingerprint: current })
    });
    const record = (fingerprint: string, builtAt: number) =>
      artifactRecord({ fingerprint, size: 70700000, built_at: builtAt });
    const { container } = render(
      <EnvironmentPanel
        {...panelProps(
          state({
            environment: env,
            artifacts: [
              record('o'.repeat(64), NOW - 500),
              record(current, NOW - 10),
              { ...record('x'.repeat(64), NOW), python: '/other/python' }
            ]
          })
        )}
        pexView="up-to-date"
        {...callbacks}
      />
    );
    const rows = container.querySelectorAll('[data-kind="cached"]');
    expect(rows).toHaveLength(2);
    expect(rows[0].getAttribute('data-fingerprint')).toBe(current);
    expect(rows[0].getAttribute('data-current')).toBe('true');
    expect(rows[1].getAttribute('data-current')).toBeNull();
    expect(within(rows[0] as HTMLElement).getByText('current')).toBeTruthy();
    expect(within(rows[0] as HTMLElement).getByText('67.4 MB')).toBeTruthy();
  });

  it('sizes a layered build as its launcher and its layers', () => {
    const layered = artifactRecord({
      size: 14000,
      layers: [
        { file: 'pexlab-bootstrap-0.zip', size: 1000000 },
        { file: 'pexlab-layer-1-numpy.whl', size: 69000000 }
      ]
    });
    const { container } = render(
      <EnvironmentPanel
        {...panelProps(
          state({ environment: environment(), artifacts: [layered] })
        )}
        pexView="up-to-date"
        {...callbacks}
      />
    );
    const row = container.querySelector('[data-kind="cached"]') as HTMLElement;
    expect(within(row).getByText('PEX in 2 layers')).toBeTruthy();
    expect(within(row).getByText('66.8 MB')).toBeTruthy();
  });

  it("says what the cells ship, in the cells' words", () => {
    const cluster = environment({
      build: resolved({ storage: 'file:///shared', master: 'spark://h:7077' })
    });
    const { rerender } = render(
      <EnvironmentPanel
        {...panelProps(state({ environment: cluster }))}
        pexView="missing"
        {...callbacks}
      />
    );
    expect(
      screen.getByText(/Executors on spark:\/\/h:7077 run/).textContent
    ).toContain('shipped as a PEX uploaded to file:///shared');
    const local = {
      ...cluster,
      build: {
        ...cluster.build!,
        master: 'local[*]',
        master_kind: 'local' as const
      }
    };
    rerender(
      <EnvironmentPanel
        {...panelProps(state({ environment: local }))}
        pexView="missing"
        {...callbacks}
      />
    );
    expect(screen.getByText(/nothing is shipped/)).toBeTruthy();
  });

  it('shows the whole kernel name and the notebook name', () => {
    render(
      <EnvironmentPanel
        {...panelProps(
          state({
            kernel: {
              id: KERNEL,
              label: 'Python (pexlab demo)',
              path: 'work/pexlab-demo.ipynb'
            }
          })
        )}
        pexView="missing"
        {...callbacks}
      />
    );
    expect(screen.getByText('Python (pexlab demo)')).toBeTruthy();
    expect(screen.getByText('pexlab-demo.ipynb').title).toBe(
      'work/pexlab-demo.ipynb'
    );
  });
});

describe('format helpers', () => {
  it('splits paths after their separators only', () => {
    expect(pathParts('/home/me/.venv/bin/python')).toEqual([
      '/',
      'home/',
      'me/',
      '.venv/',
      'bin/',
      'python'
    ]);
    expect(pathParts('C:\\Users\\me\\python.exe')).toEqual([
      'C:\\',
      'Users\\',
      'me\\',
      'python.exe'
    ]);
  });

  it('formats sizes and durations', () => {
    // The same strings as pexlab.notebook_progress.format_size (binary units, to GB).
    const python: Array<[number, string]> = [
      [0, '0 B'],
      [512, '512 B'],
      [1023, '1023 B'],
      [1024, '1.0 KB'],
      [1536, '1.5 KB'],
      [70700000, '67.4 MB'],
      [1048575, '1024.0 KB'],
      [5368709120, '5.0 GB'],
      [3298534883328, '3072.0 GB']
    ];
    for (const [n, text] of python) {
      expect(formatBytes(n)).toBe(text);
    }
    expect(formatBytes(null)).toBe('');
    expect(formatDuration(5, trans)).toBe('5 s');
    expect(formatDuration(125, trans)).toBe('2 min 05 s');
    expect(formatDuration(3725, trans)).toBe('1 h 02 min');
    expect(toSeconds('1700000000.5')).toBe(1700000000.5);
    expect(toSeconds(1700000000500)).toBe(1700000000.5);
    expect(toSeconds('2023-11-14T22:13:20+00:00')).toBe(1700000000);
    expect(formatAge(1000, 1125, trans)).toBe('2 min 05 s');
  });
});
