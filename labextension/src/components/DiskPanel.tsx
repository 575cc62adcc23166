/**
 * Disk: a chart of each env's use (own vs shared bytes) and of the package cache, the
 * filesystems' free bytes and inodes, and cleaning: a preview first (what goes, bytes and
 * inodes freed, what is kept and why), then the run.
 */
import * as React from 'react';

import { trans } from '../i18n';
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

const categories = (): { value: CleanCategory; label: string }[] => [
  {
    value: 'tarballs',
    label: trans.__('Downloaded archives (.conda, .tar.bz2)')
  },
  {
    value: 'packages',
    label: trans.__('Extracted packages no environment uses')
  },
  { value: 'index-cache', label: trans.__('Channel index cache') },
  { value: 'locks', label: trans.__('Stale lock files') }
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
        ? trans.__('used by %1', names.join(', '))
        : trans.__('used by an environment');
    }
    case 'busy':
      return trans.__('in use by a running operation');
    case 'recent':
      return trans.__('written moments ago; kept to be safe');
    default:
      return kept.reason;
  }
}

function treeLabel(tree: IUsageTree): string {
  if (tree.kind === 'pkgs') {
    return trans.__('package cache (%1)', tree.path);
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
    return <div className="jp-EnvMgr-empty">{trans.__('Measuring…')}</div>;
  }
  const max = Math.max(1, ...usage.trees.map(t => t.real_bytes));
  return (
    <>
      <table
        className="jp-EnvMgr-chart"
        aria-label={trans.__('Disk use per environment')}
      >
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
                  {trans.__(
                    '%1 own · %2 shared · %3 inodes',
                    formatBytes(tree.own_bytes),
                    formatBytes(tree.shared_bytes),
                    formatCount(tree.inodes)
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div className="jp-EnvMgr-legend" aria-label={trans.__('Legend')}>
        <span className="jp-EnvMgr-legendItem" data-legend="own">
          <span className="jp-EnvMgr-swatch jp-EnvMgr-barOwn" />{' '}
          {trans.__('own (only this tree uses it)')}
        </span>{' '}
        <span className="jp-EnvMgr-legendItem" data-legend="cache">
          <span className="jp-EnvMgr-swatch jp-EnvMgr-barOwn jp-mod-cache" />{' '}
          {trans.__('package cache')}
        </span>{' '}
        <span className="jp-EnvMgr-legendItem" data-legend="shared">
          <span className="jp-EnvMgr-swatch jp-EnvMgr-barShared" />{' '}
          {trans.__(
            'shared (hard links with the cache or other envs, counted once)'
          )}
        </span>
      </div>
      <h3>{trans.__('Filesystems')}</h3>
      <table className="jp-EnvMgr-table" aria-label={trans.__('Filesystems')}>
        <thead>
          <tr>
            <th>{trans.__('Holds')}</th>
            <th>{trans.__('Free bytes')}</th>
            <th>{trans.__('Free inodes')}</th>
          </tr>
        </thead>
        <tbody>
          {usage.filesystems.map((fs, index) => (
            <tr key={`${fs.device ?? index}`}>
              <td>{fs.paths.join(', ')}</td>
              <td>
                {trans.__(
                  '%1 of %2',
                  formatBytes(fs.free_bytes),
                  formatBytes(fs.total_bytes)
                )}
                <Meter
                  free={fs.free_bytes}
                  total={fs.total_bytes}
                  name={trans.__('Bytes free')}
                />
              </td>
              <td>
                {trans.__(
                  '%1 of %2',
                  formatCount(fs.free_inodes),
                  formatCount(fs.total_inodes)
                )}
                <Meter
                  free={fs.free_inodes}
                  total={fs.total_inodes}
                  name={trans.__('Inodes free')}
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
  /** The meter's name ("Bytes free"). */
  name: string;
}): JSX.Element | null {
  if (!props.total || props.free === null) {
    return null;
  }
  const free = Math.max(0, Math.min(100, (props.free / props.total) * 100));
  const label = trans.__('%1% free', free.toFixed(0));
  return (
    <div className="jp-EnvMgr-meterRow">
      <div
        className="jp-EnvMgr-bar jp-mod-meter"
        role="meter"
        aria-label={props.name}
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
      trans.__('Clean the package cache?'),
      trans.__(
        'Remove what the preview lists: %1 and %2 inodes.',
        formatBytes(plan?.bytes),
        formatCount(plan?.inodes)
      ),
      trans.__('Clean')
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
    <section className="jp-EnvMgr-section" aria-label={trans.__('Clean')}>
      <h3>{trans.__('Clean the package cache')}</h3>
      <fieldset className="jp-EnvMgr-fieldset">
        <legend>{trans.__('What to clean')}</legend>
        {categories().map(c => (
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
          {trans.__('Preview')}
        </button>
        <button
          className="jp-EnvMgr-button jp-mod-warn"
          onClick={() => void run()}
          disabled={
            !plan ||
            plan.items.length === 0 ||
            (tracker !== null && !tracker.finished)
          }
          title={plan ? undefined : trans.__('Preview first')}
        >
          {trans.__('Clean now')}
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
        <div className="jp-EnvMgr-plan" aria-label={trans.__('Clean preview')}>
          <p className="jp-EnvMgr-planTotal">
            {trans.__(
              'Frees %1 and %2 inodes (%3 items).',
              formatBytes(plan.bytes),
              formatCount(plan.inodes),
              plan.items.length
            )}
          </p>
          {plan.items.length > 0 && (
            <table
              className="jp-EnvMgr-table"
              aria-label={trans.__('What goes')}
            >
              <thead>
                <tr>
                  <th>{trans.__('What goes')}</th>
                  <th>{trans.__('Kind')}</th>
                  <th>{trans.__('Bytes')}</th>
                  <th>{trans.__('Inodes')}</th>
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
            <table
              className="jp-EnvMgr-table"
              aria-label={trans.__('What is kept')}
            >
              <thead>
                <tr>
                  <th>{trans.__('Kept')}</th>
                  <th>{trans.__('Why')}</th>
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
        <h2>{trans.__('Disk')}</h2>
        <button
          className="jp-EnvMgr-button"
          onClick={() => void model.refreshUsage()}
        >
          {trans.__('Measure again')}
        </button>
      </header>
      <section className="jp-EnvMgr-section" aria-label={trans.__('Disk use')}>
        <h3>{trans.__('Disk use')}</h3>
        <UsageChart model={model} />
      </section>
      <CleanSection {...props} />
    </div>
  );
}
