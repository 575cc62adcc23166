/**
 * A new environment: a name and specs with ordered channels (the server's defaults first), or
 * an uploaded environment.yml / @EXPLICIT / lock file; then its progress, live.
 */
import * as React from 'react';

import { trans } from '../i18n';
import { EnvManagerModel, TaskTracker } from '../model';
import { errorMessage } from '../request';
import { ICreateRequest } from '../types';
import { IViewActions } from './actions';
import { useSignals } from './hooks';
import { TaskView } from './Task';

export interface ICreatePanelProps {
  model: EnvManagerModel;
  actions: IViewActions;
}

const NAME_RULE = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}$/;

function specsOf(text: string): string[] {
  return text
    .split(/,|\n|\s+(?![<>=!~])/)
    .map(s => s.trim())
    .filter(Boolean);
}

function Channels(props: {
  channels: string[];
  onChange: (channels: string[]) => void;
  defaults: string | null;
}): JSX.Element {
  const { channels, onChange } = props;
  const [adding, setAdding] = React.useState('');
  const move = (index: number, by: number) => {
    const next = [...channels];
    const [item] = next.splice(index, 1);
    next.splice(index + by, 0, item);
    onChange(next);
  };
  const add = () => {
    const value = adding.trim();
    if (value && !channels.includes(value)) {
      onChange([...channels, value]);
    }
    setAdding('');
  };
  return (
    <fieldset className="jp-EnvMgr-fieldset">
      <legend>{trans.__('Channels, highest priority first')}</legend>
      {props.defaults && (
        <div className="jp-EnvMgr-muted">{props.defaults}</div>
      )}
      <ol className="jp-EnvMgr-channels" aria-label={trans.__('Channels')}>
        {channels.map((channel, index) => (
          <li key={channel}>
            <span className="jp-EnvMgr-channel">{channel}</span>
            <button
              type="button"
              className="jp-EnvMgr-button jp-mod-small"
              disabled={index === 0}
              onClick={() => move(index, -1)}
              aria-label={trans.__('Move %1 up', channel)}
            >
              ↑
            </button>
            <button
              type="button"
              className="jp-EnvMgr-button jp-mod-small"
              disabled={index === channels.length - 1}
              onClick={() => move(index, 1)}
              aria-label={trans.__('Move %1 down', channel)}
            >
              ↓
            </button>
            <button
              type="button"
              className="jp-EnvMgr-button jp-mod-small"
              onClick={() => onChange(channels.filter(c => c !== channel))}
              aria-label={trans.__('Remove channel %1', channel)}
            >
              ✕
            </button>
          </li>
        ))}
      </ol>
      <div className="jp-EnvMgr-row">
        <input
          className="jp-EnvMgr-input jp-mod-wide"
          type="text"
          value={adding}
          placeholder={trans.__('conda-forge, or a channel URL')}
          aria-label={trans.__('Add a channel')}
          onChange={e => setAdding(e.target.value)}
          onKeyDown={e => {
            if (e.key === 'Enter') {
              e.preventDefault();
              add();
            }
          }}
        />
        <button
          type="button"
          className="jp-EnvMgr-button"
          onClick={add}
          disabled={!adding.trim()}
        >
          {trans.__('Add channel')}
        </button>
      </div>
    </fieldset>
  );
}

export function CreatePanel(props: ICreatePanelProps): JSX.Element {
  const { model, actions } = props;
  useSignals(model.settingsChanged, model.tasksChanged);
  const [name, setName] = React.useState('');
  const [specs, setSpecs] = React.useState('');
  const [channels, setChannels] = React.useState<string[] | null>(null);
  const [file, setFile] = React.useState<{ name: string; text: string } | null>(
    null
  );
  const [error, setError] = React.useState<string | null>(null);
  const [tracker, setTracker] = React.useState<TaskTracker | null>(null);
  const [submitting, setSubmitting] = React.useState(false);
  const fileInput = React.useRef<HTMLInputElement>(null);

  // The server's channels are the starting order (settings need `execute`; without it the
  // server still uses its defaults when none are given).
  const shownChannels = channels ?? model.settings?.channels ?? [];
  // The placeholder names what these channels have (one read per channel list and page).
  const [suggested, setSuggested] = React.useState<string[]>([]);
  const channelsKey = channels === null ? null : channels.join('\n');
  React.useEffect(() => {
    let live = true;
    void model.suggestedSpecs(channels ?? undefined).then(found => {
      if (live) {
        setSuggested(found);
      }
    });
    return () => {
      live = false;
    };
  }, [channelsKey]);
  const specsPlaceholder = suggested.length
    ? suggested.join(' ')
    : trans.__('package specs, e.g. python ipykernel');
  const defaults = model.settings
    ? null
    : model.settingsError
      ? trans.__(
          "The server's default channels are used when none are listed (%1)",
          model.settingsError
        )
      : trans.__('Reading the server’s channels…');

  const nameProblem =
    name && !NAME_RULE.test(name)
      ? trans.__(
          'Use letters, digits and _ . + - (no spaces or /), starting with a letter, digit or _.'
        )
      : null;

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setError(null);
    const request: ICreateRequest = { name: name.trim() };
    const list = specsOf(specs);
    if (list.length) {
      request.specs = list;
    }
    if (file) {
      request.file = file.text;
      request.filename = file.name;
    }
    if (!file && list.length === 0) {
      setError(
        trans.__('Name at least one package, or choose an environment file.')
      );
      return;
    }
    if (channels !== null || (model.settings && shownChannels.length)) {
      request.channels = shownChannels;
      request.override_channels = true;
    }
    setSubmitting(true);
    try {
      const started = await model.create(request);
      setTracker(started);
      void started.done.then(task => {
        if (task.state === 'done') {
          actions.openEnv(request.name);
        }
      });
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setSubmitting(false);
    }
  };

  const chooseFile = async (files: FileList | null) => {
    const chosen = files?.[0];
    if (!chosen) {
      setFile(null);
      return;
    }
    if (chosen.size > 5 * 1024 * 1024) {
      setError(trans.__('%1 is larger than 5 MB.', chosen.name));
      return;
    }
    const text = await chosen.text();
    setFile({ name: chosen.name, text });
    const named = /^name:\s*([A-Za-z0-9_][A-Za-z0-9_.+-]*)\s*$/m.exec(text);
    if (named && !name) {
      setName(named[1]);
    }
  };

  const running = tracker !== null && !tracker.finished;
  return (
    <div className="jp-EnvMgr-createPanel">
      <h2>{trans.__('New environment')}</h2>
      <form onSubmit={submit} aria-label={trans.__('New environment')}>
        <label className="jp-EnvMgr-field">
          <span>{trans.__('Name')}</span>
          <input
            className="jp-EnvMgr-input"
            type="text"
            value={name}
            required
            autoFocus
            aria-label={trans.__('Environment name')}
            placeholder={trans.__('data-analysis')}
            onChange={e => setName(e.target.value)}
          />
        </label>
        {nameProblem && <div className="jp-EnvMgr-warning">{nameProblem}</div>}
        <label className="jp-EnvMgr-field">
          <span>{trans.__('Packages')}</span>
          <textarea
            className="jp-EnvMgr-input"
            value={specs}
            rows={3}
            aria-label={trans.__('Packages')}
            placeholder={specsPlaceholder}
            onChange={e => setSpecs(e.target.value)}
          />
        </label>
        <Channels
          channels={shownChannels}
          onChange={setChannels}
          defaults={defaults}
        />
        <fieldset className="jp-EnvMgr-fieldset">
          <legend>{trans.__('Or from a file')}</legend>
          <div className="jp-EnvMgr-muted">
            {trans.__(
              'An environment.yml, an @EXPLICIT list (.txt), a conda-lock.yml, a pixi.lock or an envmgr lock file (.lock). An explicit or lock file fixes every package: leave the packages empty.'
            )}
          </div>
          <input
            ref={fileInput}
            type="file"
            accept=".yml,.yaml,.txt,.lock"
            title={trans.__(
              'environment.yml, @EXPLICIT .txt, conda-lock.yml, pixi.lock or .lock'
            )}
            aria-label={trans.__('Environment file')}
            onChange={e => void chooseFile(e.target.files)}
          />
          {file && (
            <span>
              {file.name}{' '}
              <button
                type="button"
                className="jp-EnvMgr-link"
                onClick={() => {
                  setFile(null);
                  if (fileInput.current) {
                    fileInput.current.value = '';
                  }
                }}
              >
                {trans.__('clear')}
              </button>
            </span>
          )}
        </fieldset>
        <div className="jp-EnvMgr-row">
          <button
            className="jp-EnvMgr-button jp-mod-accept"
            type="submit"
            disabled={!name.trim() || !!nameProblem || submitting || running}
          >
            {trans.__('Create')}
          </button>
        </div>
      </form>
      {error && (
        <div className="jp-EnvMgr-error" role="alert">
          {error}
        </div>
      )}
      {tracker && <CreateProgress tracker={tracker} actions={actions} />}
    </div>
  );
}

function CreateProgress(props: {
  tracker: TaskTracker;
  actions: IViewActions;
}): JSX.Element {
  const { tracker, actions } = props;
  useSignals(tracker.changed);
  return (
    <section className="jp-EnvMgr-section" aria-label={trans.__('Progress')}>
      <TaskView tracker={tracker} onCancel={actions.cancel} detailed />
      {tracker.task.state === 'done' && tracker.task.env && (
        <button
          className="jp-EnvMgr-button"
          onClick={() => actions.openEnv(tracker.task.env!)}
        >
          {trans.__('Open %1', tracker.task.env)}
        </button>
      )}
    </section>
  );
}
