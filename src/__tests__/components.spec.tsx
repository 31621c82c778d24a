import { nullTranslator } from '@jupyterlab/translation';
import { fireEvent, render, screen, within } from '@testing-library/react';
import * as React from 'react';

import { BuildControls } from '../components/BuildProgress';
import { EnvironmentPanel } from '../components/EnvironmentPanel';
import {
  formatAge,
  formatBytes,
  formatDuration,
  toSeconds
} from '../components/format';
import { PackageList } from '../components/PackageList';
import { PexStatus } from '../components/PexStatus';
import type { IModelState } from '../model';
import { KERNEL, build, dist, environment, pex } from './fakes';

const trans = nullTranslator.load('pexlab');

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

  it('handles 1,000 packages and filters them', () => {
    const many = Array.from({ length: 1000 }, (_, i) =>
      dist(
        `pkg-${String(i).padStart(4, '0')}`,
        `1.${i}`,
        i % 100 === 0 ? `/src/p${i}` : null
      )
    );
    const { container } = render(<PackageList packages={many} trans={trans} />);
    expect(container.querySelectorAll('.pexlab-PackageList-row')).toHaveLength(
      1000
    );
    expect(
      screen.getByText('1000 of 1000 packages · 10 editable')
    ).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Filter packages'), {
      target: { value: 'pkg-09' }
    });
    expect(container.querySelectorAll('.pexlab-PackageList-row')).toHaveLength(
      100
    );
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
      />
    );
    expect(screen.getByRole('status').textContent).toBe('Stale');
    expect(screen.getByText('added tabulate 0.9.0')).toBeTruthy();
    expect(screen.getByText('removed six 1.16.0')).toBeTruthy();
    expect(screen.getByText('numpy 2.0.0 → 2.1.0')).toBeTruthy();
    expect(screen.getByText('editable demo moved')).toBeTruthy();
  });

  it('explains a missing PEX', () => {
    render(<PexStatus view="missing" pex={pex('missing')} trans={trans} />);
    expect(screen.getByRole('status').textContent).toBe('Not built');
    expect(screen.getByText(/No PEX has been built/)).toBeTruthy();
  });
});

describe('BuildControls', () => {
  const noop = () => undefined;

  it('disables Build while building and offers Cancel, progress and the log', () => {
    const onCancel = jest.fn();
    render(
      <BuildControls
        build={build({
          progress: 0.42,
          phase: 'build',
          log: ['pex: resolving', 'pex: done']
        })}
        canBuild={true}
        buildError={null}
        trans={trans}
        onBuild={noop}
        onCancel={onCancel}
        onInsertCells={noop}
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
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(onCancel).toHaveBeenCalledTimes(1);
    expect(screen.queryByText(/pex: resolving/)).toBeNull();
    const toggle = screen.getByRole('button', { name: 'Show log' });
    fireEvent.click(toggle);
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
      />
    );
    fireEvent.click(screen.getByRole('button', { name: 'Build & upload' }));
    fireEvent.click(screen.getByRole('button', { name: 'Insert setup cells' }));
    expect(onBuild).toHaveBeenCalledTimes(1);
    expect(onInsert).toHaveBeenCalledTimes(1);
    expect(screen.getByRole('alert').textContent).toBe('pex failed: boom');
    expect(screen.queryByRole('button', { name: 'Cancel' })).toBeNull();
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
    artifacts: [],
    artifactsError: null,
    ...extra
  };
}

describe('EnvironmentPanel', () => {
  const callbacks = {
    onRefresh: jest.fn(),
    onBuild: jest.fn(),
    onCancel: jest.fn(),
    onInsertCells: jest.fn(),
    onCopy: jest.fn()
  };

  it('asks for a kernel when there is none', () => {
    render(
      <EnvironmentPanel
        state={state({ kernel: null, status: 'no-kernel', environment: null })}
        pexView="unknown"
        trans={trans}
        {...callbacks}
      />
    );
    expect(screen.getByText(/No kernel/)).toBeTruthy();
  });

  it('shows the server error and retries', () => {
    render(
      <EnvironmentPanel
        state={state({
          status: 'error',
          environment: null,
          error: 'Kernel is dead.'
        })}
        pexView="unknown"
        trans={trans}
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
      artifacts: {
        fingerprint: 'f'.repeat(64),
        pex: {
          kind: 'pex',
          name: 'env-ffff.pex',
          local_path: '/cache/env.pex',
          url: 's3://bucket/env-ffff.pex',
          size: 5 * 1024 * 1024
        },
        editables: [
          {
            kind: 'editable',
            name: 'demo-0123456789ab.zip',
            url: 's3://bucket/demo-0123456789ab.zip',
            size: 2048
          }
        ]
      }
    });
    render(
      <EnvironmentPanel
        state={state({ build: artifactsBuild })}
        pexView="up-to-date"
        trans={trans}
        {...callbacks}
      />
    );
    expect(screen.getByText('/venv/bin/python')).toBeTruthy();
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

describe('format helpers', () => {
  it('formats sizes and durations', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatDuration(5)).toBe('5 s');
    expect(formatDuration(125)).toBe('2 min 05 s');
    expect(formatDuration(3725)).toBe('1 h 02 min');
    expect(toSeconds('1700000000.5')).toBe(1700000000.5);
    expect(toSeconds(1700000000500)).toBe(1700000000.5);
    expect(toSeconds('2023-11-14T22:13:20+00:00')).toBe(1700000000);
    expect(formatAge(1000, 1125)).toBe('2 min 05 s');
  });
});
