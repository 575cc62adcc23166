/**
 * Disk: a chart of each env's use (own vs shared bytes) and of the package cache, the
 * filesystems' free bytes and inodes, and cleaning: a preview first (what goes, bytes and
 * inodes freed, what is kept and why), then the run.
 */
import * as React from 'react';

import { EnvManagerModel, TaskTracker } from '../model';
import { formatBytes, formatCount } from '../progress';
import { CleanCategory, ICleanKept, IUsageTree } from '../types';
import { IViewActions } from './actions';
import { useSignals } from './hooks';
import { TaskView } from './Task';

export interface IDiskPanelProps {
  model: EnvManagerModel;
  actions: IViewActions;
}

const CATEGORIES: { value: CleanCategory; label: string }[] = [
  { value: 'tarballs', label: 'Downloaded archives (.conda, .tar.bz2)' },
  { value: 'packages', label: 'Extracted packages no environment uses' },
  { value: 'index-cache', label: 'Channel index cache' },
  { value: 'locks', label: 'Stale lock files' }
];

function keptWords(kept: ICleanKept, model: EnvManagerModel): string {
  switch (kept.reason) {
    case 'in-use': {
      // The envs come as prefixes: their names where we know them.
      const names = kept.envs.map(
        prefix =>
          model.environments.find(e => e.prefix === prefix)?.name ?? prefix
      );
      return names.length
        ? `used by ${names.join(', ')}`
        : 'used by an environment';
    }
    case 'busy':
      return 'in use by a running operation';
    case 'recent':
      return 'written moments ago; kept to be safe';
    default:
      return kept.reason;
  }
}

function treeLabel(tree: IUsageTree): string {
  if (tree.kind === 'pkgs') {
    return `package cache (${tree.path})`;
  }
  return tree.name ?? tree.path;
}

function UsageChart(props: { model: EnvManagerModel }): JSX.Element {
  const { model } = props;
  const usage = model.usage;
  if (model.usageError) {
    return (
      <div className="jp-EnvMgr-error" role="alert">
        {model.usageError}
      </div>
    );
  }
  if (!usage) {
    return <div className="jp-EnvMgr-empty">Measuring…</div>;
  }
  const max = Math.max(1, ...usage.trees.map(t => t.real_bytes));
  return (
    <>
      <table className="jp-EnvMgr-chart" aria-label="Disk use per environment">
        <tbody>
          {usage.trees.map(tree => {
            const own = (tree.own_bytes / max) * 100;
            const shared = (tree.shared_bytes / max) * 100;
            return (
              <tr
                key={tree.path}
                data-tree={
                  tree.kind === 'pkgs' ? 'cache' : (tree.name ?? tree.path)
                }
              >
                <th
                  scope="row"
                  className="jp-EnvMgr-chartLabel"
                  title={tree.path}
                >
                  {treeLabel(tree)}
                </th>
                <td className="jp-EnvMgr-chartBars">
                  <div className="jp-EnvMgr-bar">
                    <div
                      className={`jp-EnvMgr-barOwn${tree.kind === 'pkgs' ? ' jp-mod-cache' : ''}`}
                      style={{ width: `${own}%` }}
                    />
                    <div
                      className="jp-EnvMgr-barShared"
                      style={{ width: `${shared}%` }}
                    />
                  </div>
                </td>
                <td className="jp-EnvMgr-chartText">
                  {formatBytes(tree.own_bytes)} own ·{' '}
                  {formatBytes(tree.shared_bytes)} shared ·{' '}
                  {formatCount(tree.inodes)} inodes
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div className="jp-EnvMgr-legend" aria-label="Legend">
        <span className="jp-EnvMgr-legendItem" data-legend="own">
          <span className="jp-EnvMgr-swatch jp-EnvMgr-barOwn" /> own (only this
          tree uses it)
        </span>{' '}
        <span className="jp-EnvMgr-legendItem" data-legend="cache">
          <span className="jp-EnvMgr-swatch jp-EnvMgr-barOwn jp-mod-cache" />{' '}
          package cache
        </span>{' '}
        <span className="jp-EnvMgr-legendItem" data-legend="shared">
          <span className="jp-EnvMgr-swatch jp-EnvMgr-barShared" /> shared (hard
          links with the cache or other envs, counted once)
        </span>
      </div>
      <h3>Filesystems</h3>
      <table className="jp-EnvMgr-table" aria-label="Filesystems">
        <thead>
          <tr>
            <th>Holds</th>
            <th>Free bytes</th>
            <th>Free inodes</th>
          </tr>
        </thead>
        <tbody>
          {usage.filesystems.map((fs, index) => (
            <tr key={`${fs.device ?? index}`}>
              <td>{fs.paths.join(', ')}</td>
              <td>
                {formatBytes(fs.free_bytes)} of {formatBytes(fs.total_bytes)}
                <Meter
                  free={fs.free_bytes}
                  total={fs.total_bytes}
                  what="Bytes"
                />
              </td>
              <td>
                {formatCount(fs.free_inodes)} of {formatCount(fs.total_inodes)}
                <Meter
                  free={fs.free_inodes}
                  total={fs.total_inodes}
                  what="Inodes"
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {usage.warnings.map(w => (
        <div key={w} className="jp-EnvMgr-warning">
          {w}
        </div>
      ))}
    </>
  );
}

/** A filesystem's free share: the bar is as full as the free fraction, labelled "N% free". */
function Meter(props: {
  free: number | null;
  total: number | null;
  what: string;
}): JSX.Element | null {
  if (!props.total || props.free === null) {
    return null;
  }
  const free = Math.max(0, Math.min(100, (props.free / props.total) * 100));
  const label = `${free.toFixed(0)}% free`;
  return (
    <div className="jp-EnvMgr-meterRow">
      <div
        className="jp-EnvMgr-bar jp-mod-meter"
        role="meter"
        aria-label={`${props.what} free`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Number(free.toFixed(1))}
        aria-valuetext={label}
        title={label}
      >
        <div className="jp-EnvMgr-barFree" style={{ width: `${free}%` }} />
      </div>
      <span className="jp-EnvMgr-meterLabel">{label}</span>
    </div>
  );
}

function CleanSection(props: IDiskPanelProps): JSX.Element {
  const { model, actions } = props;
  const [chosen, setChosen] = React.useState<CleanCategory[]>([
    'tarballs',
    'packages'
  ]);
  const [tracker, setTracker] = React.useState<TaskTracker | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const plan = model.cleanPlan;
  const toggle = (value: CleanCategory) =>
    setChosen(
      chosen.includes(value)
        ? chosen.filter(c => c !== value)
        : [...chosen, value]
    );
  const preview = () => {
    setError(null);
    void model.previewClean(chosen);
  };
  const run = async () => {
    const ok = await actions.confirm(
      'Clean the package cache?',
      `Remove what the preview lists: ${formatBytes(plan?.bytes)} and ${formatCount(plan?.inodes)} inodes.`,
      'Clean'
    );
    if (!ok) {
      return;
    }
    try {
      const started = await model.clean(chosen);
      setTracker(started);
      void started.done.then(() => {
        void model.refreshUsage();
        void model.previewClean(chosen);
      });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <section className="jp-EnvMgr-section" aria-label="Clean">
      <h3>Clean the package cache</h3>
      <fieldset className="jp-EnvMgr-fieldset">
        <legend>What to clean</legend>
        {CATEGORIES.map(c => (
          <label key={c.value} className="jp-EnvMgr-check">
            <input
              type="checkbox"
              checked={chosen.includes(c.value)}
              onChange={() => toggle(c.value)}
            />{' '}
            {c.label}
          </label>
        ))}
      </fieldset>
      <div className="jp-EnvMgr-row">
        <button
          className="jp-EnvMgr-button"
          onClick={preview}
          disabled={chosen.length === 0}
        >
          Preview
        </button>
        <button
          className="jp-EnvMgr-button jp-mod-warn"
          onClick={() => void run()}
          disabled={
            !plan ||
            plan.items.length === 0 ||
            (tracker !== null && !tracker.finished)
          }
          title={plan ? undefined : 'Preview first'}
        >
          Clean now
        </button>
      </div>
      {model.cleanPlanError && (
        <div className="jp-EnvMgr-error" role="alert">
          {model.cleanPlanError}
        </div>
      )}
      {error && (
        <div className="jp-EnvMgr-error" role="alert">
          {error}
        </div>
      )}
      {tracker && (
        <TaskView tracker={tracker} onCancel={actions.cancel} detailed />
      )}
      {plan && (
        <div className="jp-EnvMgr-plan" aria-label="Clean preview">
          <p className="jp-EnvMgr-planTotal">
            Frees {formatBytes(plan.bytes)} and {formatCount(plan.inodes)}{' '}
            inodes ({plan.items.length} items).
          </p>
          {plan.items.length > 0 && (
            <table className="jp-EnvMgr-table" aria-label="What goes">
              <thead>
                <tr>
                  <th>What goes</th>
                  <th>Kind</th>
                  <th>Bytes</th>
                  <th>Inodes</th>
                </tr>
              </thead>
              <tbody>
                {plan.items.map(item => (
                  <tr key={`${item.category}:${item.name}:${item.paths[0]}`}>
                    <td title={item.paths.join('\n')}>{item.name}</td>
                    <td>{item.category}</td>
                    <td>{formatBytes(item.bytes)}</td>
                    <td>{formatCount(item.inodes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {plan.kept.length > 0 && (
            <table className="jp-EnvMgr-table" aria-label="What is kept">
              <thead>
                <tr>
                  <th>Kept</th>
                  <th>Why</th>
                </tr>
              </thead>
              <tbody>
                {plan.kept.map(kept => (
                  <tr key={`${kept.category}:${kept.path}`}>
                    <td title={kept.path}>{kept.name}</td>
                    <td>{keptWords(kept, model)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </section>
  );
}

export function DiskPanel(props: IDiskPanelProps): JSX.Element {
  const { model } = props;
  useSignals(model.usageChanged, model.cleanPlanChanged, model.tasksChanged);
  return (
    <div className="jp-EnvMgr-diskPanel">
      <header className="jp-EnvMgr-envHeader">
        <h2>Disk</h2>
        <button
          className="jp-EnvMgr-button"
          onClick={() => void model.refreshUsage()}
        >
          Measure again
        </button>
      </header>
      <section className="jp-EnvMgr-section" aria-label="Disk use">
        <h3>Disk use</h3>
        <UsageChart model={model} />
      </section>
      <CleanSection {...props} />
    </div>
  );
}
