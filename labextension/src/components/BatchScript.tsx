/**
 * "Batch script" in an environment's view: a command and a few sbatch options give the SLURM
 * job script that runs the command in the env, activated as its kernels are. The script is
 * shown as the server writes it, with Copy, and Submit when the server has sbatch on its PATH.
 */
import { Clipboard } from '@jupyterlab/apputils';
import * as React from 'react';

import { EnvModel } from '../envmodel';
import { trans } from '../i18n';
import { errorMessage } from '../request';
import { IBatchJob, IBatchRequest, IBatchScript } from '../types';

export interface IBatchScriptProps {
  env: EnvModel;
}

type OptionKey = 'time' | 'partition' | 'cpus-per-task' | 'mem';

/** The options offered here, with an example of each (any other: `envmgr slurm-script`). */
const options = (): { key: OptionKey; label: string; example: string }[] => [
  { key: 'time', label: trans.__('Time limit'), example: '1:00:00' },
  { key: 'partition', label: trans.__('Partition'), example: 'debug' },
  { key: 'cpus-per-task', label: trans.__('CPUs'), example: '4' },
  { key: 'mem', label: trans.__('Memory'), example: '16G' }
];

/** Copy `text` to the clipboard: the browser's when it allows it, else JupyterLab's way. */
async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    Clipboard.copyToSystem(text);
  }
}

export function BatchScript(props: IBatchScriptProps): JSX.Element {
  const { env } = props;
  const [open, setOpen] = React.useState(false);
  const [request, setRequest] = React.useState<IBatchRequest>({
    command: ''
  });
  const [answer, setAnswer] = React.useState<IBatchScript | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [job, setJob] = React.useState<IBatchJob | null>(null);
  const [copied, setCopied] = React.useState(false);
  const [submitting, setSubmitting] = React.useState(false);

  // The script follows the fields (a moment after the last keystroke), checked by the server.
  React.useEffect(() => {
    if (!open || !request.command.trim()) {
      setAnswer(null);
      setError(null);
      return;
    }
    let current = true;
    const timer = window.setTimeout(async () => {
      try {
        const script = await env.manager.batchScript(env.name, request);
        if (current) {
          setAnswer(script);
          setError(null);
        }
      } catch (reason) {
        if (current) {
          setAnswer(null);
          setError(errorMessage(reason));
        }
      }
    }, 300);
    return () => {
      current = false;
      window.clearTimeout(timer);
    };
  }, [open, env.name, request]);

  const change = (key: keyof IBatchRequest, value: string) => {
    setCopied(false);
    setJob(null);
    const blank = key !== 'command' && !value.trim();
    setRequest({ ...request, [key]: blank ? undefined : value });
  };
  const copy = async () => {
    if (answer) {
      await copyText(answer.script);
      setCopied(true);
    }
  };
  const submit = async () => {
    setSubmitting(true);
    try {
      setJob(await env.manager.submitBatch(env.name, request));
      setError(null);
    } catch (reason) {
      setError(errorMessage(reason));
    } finally {
      setSubmitting(false);
    }
  };

  return (
    <section
      className="jp-EnvMgr-section jp-EnvMgr-batch"
      aria-label={trans.__('Batch script')}
    >
      <details
        open={open}
        onToggle={e => setOpen((e.target as HTMLDetailsElement).open)}
      >
        <summary>
          <h3 style={{ display: 'inline' }}>{trans.__('Batch script')}</h3>{' '}
          <span className="jp-EnvMgr-muted">
            {trans.__('run a command in this environment as a SLURM job')}
          </span>
        </summary>
        <div className="jp-EnvMgr-row">
          <input
            className="jp-EnvMgr-input jp-mod-wide"
            type="text"
            value={request.command}
            placeholder={trans.__('Command, e.g. python train.py --epochs 3')}
            aria-label={trans.__('Command to run')}
            title={trans.__(
              'Runs without a shell: for pipes or redirections give bash -c "..."'
            )}
            onChange={e => change('command', e.target.value)}
          />
        </div>
        <div className="jp-EnvMgr-row">
          {options().map(option => (
            <label key={option.key}>
              {option.label}{' '}
              <input
                className="jp-EnvMgr-input"
                type="text"
                size={10}
                value={request[option.key] ?? ''}
                placeholder={option.example}
                aria-label={option.label}
                onChange={e => change(option.key, e.target.value)}
              />
            </label>
          ))}
        </div>
        {error && (
          <div className="jp-EnvMgr-error" role="alert">
            {error}
          </div>
        )}
        {answer && (
          <>
            <pre
              className="jp-EnvMgr-lines jp-EnvMgr-batchScript"
              aria-label={trans.__('Job script')}
            >
              {answer.script}
            </pre>
            <div className="jp-EnvMgr-row">
              <button className="jp-EnvMgr-button" onClick={() => void copy()}>
                {trans.__('Copy')}
              </button>
              {copied && (
                <span className="jp-EnvMgr-muted" role="status">
                  {trans.__('Copied to the clipboard')}
                </span>
              )}
              {answer.sbatch_available ? (
                <button
                  className="jp-EnvMgr-button jp-mod-accept"
                  disabled={submitting}
                  title={trans.__(
                    "Submit with sbatch; the job's output lands in the server's root folder"
                  )}
                  onClick={() => void submit()}
                >
                  {trans.__('Submit')}
                </button>
              ) : (
                <span className="jp-EnvMgr-muted">
                  {trans.__(
                    'This server has no sbatch: copy the script and submit it where SLURM runs.'
                  )}
                </span>
              )}
            </div>
          </>
        )}
        {job && (
          <div className="jp-EnvMgr-note" role="status">
            {trans.__(
              'Submitted batch job %1; its output goes to %2',
              job.job_id,
              `${job.directory}/slurm-${job.job_id}.out`
            )}
          </div>
        )}
      </details>
    </section>
  );
}
