/**
 * One environment in the main area: its kernel (new notebook, switch an open notebook), the
 * install box with suggestions, the package table with a filter (update, remove), update all,
 * clone, export, revisions with rollback, delete. Read-only envs show why their buttons are off.
 */
import { refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { EnvModel } from '../envmodel';
import { trans } from '../i18n';
import { ExportFormat } from '../types';
import { BatchScript } from './BatchScript';
import { IViewActions, NotebooksChanged, readOnlyReason } from './actions';
import { useSignals } from './hooks';
import { PackageTable } from './PackageTable';
import { TaskList } from './Task';

export interface IEnvPanelProps {
  env: EnvModel;
  actions: IViewActions;
  notebooksChanged: NotebooksChanged;
}

/** Each format, and which tool reads it (which file to commit for which tool). */
const exportFormats = (): {
  value: ExportFormat;
  label: string;
  lock: boolean;
  use: string;
}[] => [
  {
    value: 'yml',
    label: trans.__('environment.yml (exact versions)'),
    lock: false,
    use: trans.__(
      'Commit environment.yml for Binder and repo2docker (and conda env create).'
    )
  },
  {
    value: 'from-history',
    label: trans.__('environment.yml (what was asked for)'),
    lock: false,
    use: trans.__(
      'Commit environment.yml for Binder and repo2docker: they solve it again.'
    )
  },
  {
    value: 'conda-lock',
    label: trans.__('conda-lock.yml'),
    lock: true,
    use: trans.__(
      "Commit conda-lock.yml for conda-lock, conda-store and conda's lockfile plugin."
    )
  },
  {
    value: 'pixi-lock',
    label: trans.__('pixi.lock'),
    lock: true,
    use: trans.__('Commit pixi.lock for pixi (version 7).')
  },
  {
    value: 'pixi-lock-v6',
    label: trans.__('pixi.lock (version 6)'),
    lock: true,
    use: trans.__(
      "For tools that read pixi.lock version 6 (conda's lockfile plugin)."
    )
  },
  {
    value: 'explicit',
    label: trans.__('@EXPLICIT list of URLs'),
    lock: false,
    use: trans.__(
      'For conda create --file: this platform only, no pip packages.'
    )
  },
  {
    value: 'lock',
    label: trans.__('envmgr lock file'),
    lock: true,
    use: trans.__('For envmgr create -f (the rattler lock layout).')
  }
];

/** The platforms the export menu offers to lock for, besides the env's own. */
const LOCK_PLATFORMS = [
  'linux-64',
  'linux-aarch64',
  'osx-64',
  'osx-arm64',
  'win-64'
];

function splitSpecs(text: string): string[] {
  // "numpy >=2" stays one spec: split on commas and on spaces not followed by an operator.
  return text
    .split(/,|\s+(?![<>=!~])/)
    .map(s => s.trim())
    .filter(Boolean);
}

function KernelSection(props: IEnvPanelProps): JSX.Element {
  const { env, actions } = props;
  useSignals(props.notebooksChanged, env.manager.kernelsChanged);
  const kernels = env.manager.kernelsOf(env.name);
  const notebooks = actions.openNotebooks();
  if (kernels.length === 0) {
    return (
      <section className="jp-EnvMgr-section" aria-label={trans.__('Kernel')}>
        <h3>{trans.__('Kernel')}</h3>
        <p className="jp-EnvMgr-muted">
          {trans.__(
            'No kernel: install ipykernel into this environment to use it in notebooks.'
          )}
        </p>
      </section>
    );
  }
  const kernel = kernels[0];
  return (
    <section className="jp-EnvMgr-section" aria-label={trans.__('Kernel')}>
      <h3>{trans.__('Kernel')}</h3>
      <div className="jp-EnvMgr-row">
        <span className="jp-EnvMgr-kernelName" title={kernel.name}>
          {kernel.display_name}
        </span>
        <button
          className="jp-EnvMgr-button jp-mod-accept"
          onClick={() => actions.newNotebook(env.name)}
        >
          {trans.__('New notebook with this env')}
        </button>
      </div>
      {notebooks.length > 0 && (
        <ul
          className="jp-EnvMgr-notebooks"
          aria-label={trans.__('Open notebooks')}
        >
          {notebooks.map(nb => {
            const here = kernels.some(k => k.name === nb.kernelName);
            return (
              <li key={nb.id}>
                <span>{nb.title}</span>{' '}
                {here ? (
                  <span className="jp-EnvMgr-muted">
                    {trans.__('uses this env')}
                  </span>
                ) : (
                  <button
                    className="jp-EnvMgr-button jp-mod-small"
                    onClick={() => actions.switchKernel(nb.id, kernel.name)}
                    title={trans.__(
                      'Switch %1 to %2',
                      nb.title,
                      kernel.display_name
                    )}
                  >
                    {trans.__('Use this env in %1', nb.title)}
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

function InstallBox(
  props: IEnvPanelProps & { disabled: boolean; reason?: string }
): JSX.Element {
  const { env } = props;
  const [text, setText] = React.useState('');
  const timer = React.useRef<number>();
  const listId = `jp-EnvMgr-suggest-${env.name}`;
  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const specs = splitSpecs(text);
    if (specs.length === 0) {
      return;
    }
    const tracker = await env.install(specs);
    if (tracker) {
      setText('');
    }
  };
  // What the channels have of the package being typed: its name, then name=version.
  const options = [
    ...new Set(env.suggestions.flatMap(p => [p.name, `${p.name}=${p.version}`]))
  ].slice(0, 50);
  return (
    <form
      className="jp-EnvMgr-row"
      onSubmit={submit}
      aria-label={trans.__('Install packages')}
    >
      <input
        className="jp-EnvMgr-input jp-mod-wide"
        type="text"
        list={listId}
        value={text}
        disabled={props.disabled}
        placeholder={trans.__('Packages to install, e.g. numpy pandas>=2')}
        aria-label={trans.__('Packages to install')}
        onChange={e => {
          setText(e.target.value);
          window.clearTimeout(timer.current);
          const value = e.target.value;
          timer.current = window.setTimeout(() => void env.suggest(value), 250);
        }}
      />
      <datalist id={listId}>
        {options.map(option => (
          <option key={option} value={option} />
        ))}
      </datalist>
      <button
        className="jp-EnvMgr-button jp-mod-accept"
        type="submit"
        disabled={props.disabled || !text.trim()}
        title={props.reason}
      >
        {trans.__('Install')}
      </button>
    </form>
  );
}

function Revisions(
  props: IEnvPanelProps & { disabled: boolean; reason?: string }
): JSX.Element {
  const { env, actions } = props;
  const revisions = env.revisions;
  const last = revisions.length - 1;
  const rollback = async (number: number) => {
    const ok = await actions.confirm(
      trans.__('Roll back %1?', env.manager.envLabel(env.name)),
      trans.__(
        'Bring %1 back to revision %2: packages added since go, removed ones return.',
        env.manager.envLabel(env.name),
        number
      ),
      trans.__('Roll back')
    );
    if (ok) {
      await env.rollback(number);
    }
  };
  return (
    <section className="jp-EnvMgr-section" aria-label={trans.__('Revisions')}>
      <h3>{trans.__('Revisions')}</h3>
      <table className="jp-EnvMgr-table jp-EnvMgr-revisions">
        <thead>
          <tr>
            <th>#</th>
            <th>{trans.__('Date')}</th>
            <th>{trans.__('Changes')}</th>
            <th>
              <span className="jp-EnvMgr-srOnly">{trans.__('Actions')}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {[...revisions].reverse().map(rev => (
            <tr key={rev.number} data-revision={rev.number}>
              <td className="jp-EnvMgr-nowrap">{rev.number}</td>
              <td className="jp-EnvMgr-nowrap">{rev.date}</td>
              <td className="jp-EnvMgr-revChanges" title={changesTitle(rev)}>
                {rev.added.length > 0 && (
                  <span>+{rev.added.map(shortDist).join(', +')} </span>
                )}
                {rev.removed.length > 0 && (
                  <span className="jp-EnvMgr-muted">
                    −{rev.removed.map(shortDist).join(', −')}
                  </span>
                )}
              </td>
              <td className="jp-EnvMgr-actions">
                {rev.number === last ? (
                  <span className="jp-EnvMgr-muted">{trans.__('current')}</span>
                ) : (
                  <button
                    className="jp-EnvMgr-button jp-mod-small"
                    disabled={props.disabled}
                    title={props.reason}
                    onClick={() => void rollback(rev.number)}
                  >
                    {trans.__('Roll back to %1', rev.number)}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** The whole change list (the cell shows one line of it) and the command that made it. */
function changesTitle(rev: {
  added: string[];
  removed: string[];
  cmd?: string | null;
}): string {
  const lines = [
    ...rev.added.map(d => `+${shortDist(d)}`),
    ...rev.removed.map(d => `−${shortDist(d)}`)
  ];
  if (rev.cmd) {
    lines.push(rev.cmd);
  }
  return lines.join('\n');
}

/** "https://host/ch/noarch::alpha-1.0-py_0" -> "alpha-1.0". */
function shortDist(dist: string): string {
  const name = dist.split('::').pop() ?? dist;
  return name.replace(/-[^-]+$/, '');
}

export function EnvPanel(props: IEnvPanelProps): JSX.Element {
  const { env, actions } = props;
  useSignals(env.changed, env.manager.tasksChanged);
  const [format, setFormat] = React.useState<ExportFormat>('yml');
  const [platforms, setPlatforms] = React.useState<string[]>([]);
  const formats = exportFormats();
  const chosen = formats.find(f => f.value === format);
  const detail = env.detail;
  const readOnly = env.readOnly;
  // This env's tasks only (finished ones fold away in the list).
  const tasks = env.manager.tasks
    .filter(t => t.task.env === env.name)
    .slice(0, 10);
  const busy = tasks.some(t => !t.finished);
  const disabled = readOnly || !detail;
  // Why it is read-only, as the server says (admin policy or file permissions), then what
  // that means here.
  const why = env.manager.environment(env.name)?.read_only_reason;
  const readOnlyText = `${why ?? ''} ${readOnlyReason()}`.trim();
  const reason = readOnly ? readOnlyText : undefined;
  const label = env.manager.envLabel(env.name);

  const clone = async () => {
    const name = await actions.prompt(
      trans.__('Clone %1', env.manager.envLabel(env.name)),
      trans.__('Name of the new environment'),
      trans.__('%1-copy', env.manager.envLabel(env.name)),
      trans.__('Clone')
    );
    if (name) {
      const tracker = await env.clone(name);
      if (tracker) {
        void tracker.done.then(
          task => task.state === 'done' && actions.openEnv(name)
        );
      }
    }
  };
  const remove = async () => {
    // Notebooks whose kernels run in this env would fail on imports once it is gone: name
    // them and offer to shut their kernels down first (the server refuses otherwise, 409).
    const kernelNames = env.manager.kernelsOf(env.name).map(k => k.name);
    const using = kernelNames.length
      ? await actions.sessionsUsing(kernelNames)
      : [];
    const envLabel = env.manager.envLabel(env.name);
    const base = trans.__(
      'Delete the environment %1 (%2) and its kernel. Its packages stay in the cache until it is cleaned.',
      envLabel,
      detail?.prefix ?? ''
    );
    const ok = using.length
      ? await actions.confirm(
          trans.__('Delete %1? Its kernels are running', envLabel),
          trans._n(
            '%1 notebook runs a kernel of %2: %3. Once it is deleted its imports fail. Shut this kernel down (the notebook stays open) and delete? %4',
            '%1 notebooks run a kernel of %2: %3. Once it is deleted their imports fail. Shut these kernels down (the notebooks stay open) and delete? %4',
            using.length,
            envLabel,
            using.map(s => s.path).join(', '),
            base
          ),
          trans.__('Shut down kernels and delete')
        )
      : await actions.confirm(
          trans.__('Delete %1?', envLabel),
          base,
          trans.__('Delete')
        );
    if (!ok) {
      return;
    }
    if (using.length) {
      await actions.shutdownSessions(using.map(s => s.id));
    }
    await env.deleteEnv();
  };
  const download = async () => {
    const file = await env.exportEnv(format, chosen?.lock ? platforms : []);
    if (file) {
      actions.download(file);
    }
  };

  return (
    <div className="jp-EnvMgr-envPanel" data-env={env.name}>
      <header className="jp-EnvMgr-envHeader">
        <h2>{label}</h2>
        {readOnly && (
          <span
            className="jp-EnvMgr-badge jp-EnvMgr-readonly"
            title={readOnlyText}
          >
            {trans.__('read-only')}
          </span>
        )}
        {busy && (
          <span className="jp-EnvMgr-badge jp-EnvMgr-state-running">
            {trans.__('busy')}
          </span>
        )}
        <span className="jp-EnvMgr-muted jp-EnvMgr-prefix">
          {detail?.prefix}
        </span>
        <button
          className="jp-EnvMgr-button"
          onClick={() => void env.reload()}
          aria-label={trans.__('Reload')}
          title={trans.__('Read this environment again')}
        >
          <refreshIcon.react tag="span" />
        </button>
      </header>
      {readOnly && (
        <div className="jp-EnvMgr-note" role="note">
          {readOnlyText}
        </div>
      )}
      {env.loadError && (
        <div className="jp-EnvMgr-error" role="alert">
          {env.loadError}
        </div>
      )}
      {env.actionError && (
        <div
          className="jp-EnvMgr-error"
          role="alert"
          aria-label={trans.__('Refused')}
        >
          {env.actionError}{' '}
          <button
            className="jp-EnvMgr-link"
            onClick={() => env.clearActionError()}
          >
            {trans.__('dismiss')}
          </button>
        </div>
      )}
      {env.loading && !detail && (
        <div className="jp-EnvMgr-empty">{trans.__('Loading…')}</div>
      )}
      {tasks.length > 0 && (
        <section
          className="jp-EnvMgr-section"
          aria-label={trans.__('Tasks on this environment')}
        >
          <TaskList
            trackers={tasks}
            onCancel={actions.cancel}
            onDismiss={tracker => env.manager.dismissTask(tracker)}
            detailed
          />
        </section>
      )}
      {detail && (
        <>
          <KernelSection {...props} />
          <section
            className="jp-EnvMgr-section"
            aria-label={trans.__('Actions')}
          >
            <h3>{trans.__('Install')}</h3>
            <InstallBox {...props} disabled={disabled} reason={reason} />
            <div className="jp-EnvMgr-row jp-EnvMgr-actionsRow">
              <button
                className="jp-EnvMgr-button"
                disabled={disabled}
                title={
                  reason ??
                  trans.__(
                    'Update every package to the newest the channels allow'
                  )
                }
                onClick={() => void env.updateAll()}
              >
                {trans.__('Update all')}
              </button>
              <button
                className="jp-EnvMgr-button"
                onClick={() => void clone()}
                title={trans.__(
                  'A new environment with exactly these packages'
                )}
              >
                {trans.__('Clone…')}
              </button>
              <span className="jp-EnvMgr-group">
                <select
                  className="jp-EnvMgr-select"
                  aria-label={trans.__('Export format')}
                  value={format}
                  onChange={e => setFormat(e.target.value as ExportFormat)}
                >
                  {formats.map(f => (
                    <option key={f.value} value={f.value}>
                      {f.label}
                    </option>
                  ))}
                </select>
                <button
                  className="jp-EnvMgr-button"
                  onClick={() => void download()}
                >
                  {trans.__('Export')}
                </button>
              </span>
              <div className="jp-EnvMgr-exportHelp">
                <div className="jp-EnvMgr-muted">{chosen?.use}</div>
                {chosen?.lock && (
                  <fieldset className="jp-EnvMgr-exportPlatforms">
                    <legend>
                      {trans.__(
                        "Also lock for (this environment's own platform is always included):"
                      )}
                    </legend>
                    {LOCK_PLATFORMS.map(p => (
                      <label key={p}>
                        <input
                          type="checkbox"
                          aria-label={trans.__('Lock for %1', p)}
                          checked={platforms.includes(p)}
                          onChange={e =>
                            setPlatforms(
                              e.target.checked
                                ? [...platforms, p]
                                : platforms.filter(q => q !== p)
                            )
                          }
                        />
                        {p}
                      </label>
                    ))}
                  </fieldset>
                )}
              </div>
              <button
                className="jp-EnvMgr-button jp-mod-warn"
                disabled={readOnly || detail.is_root}
                title={
                  detail.is_root
                    ? trans.__('The root environment cannot be deleted')
                    : (reason ?? trans.__('Delete this environment'))
                }
                onClick={() => void remove()}
              >
                {trans.__('Delete…')}
              </button>
            </div>
          </section>
          <PackageTable
            {...props}
            disabled={disabled}
            reason={reason}
            trans={trans}
          />
          <Revisions {...props} disabled={disabled} reason={reason} />
          <BatchScript env={env} />
        </>
      )}
    </div>
  );
}
