import { ISignal } from '@lumino/signaling';

import { trans } from '../i18n';
import { TaskTracker } from '../model';

/** What the views ask the application to do (commands, dialogs, notebooks). */
export interface IEnvActions {
  openEnv(name: string): void;
  create(): void;
  openDisk(): void;
  newNotebook(env: string): void;
  cancel(tracker: TaskTracker): void;
}

/** Why an env cannot be changed, in words. */
export function readOnlyReason(): string {
  return trans.__(
    'Read-only: the administrator made this environment read-only, or the server cannot write it. Its kernel works and it can be cloned; changes are disabled.'
  );
}

/** An open notebook, as the env view offers to switch it. */
export interface INotebookRef {
  id: string;
  title: string;
  kernelName: string | null;
}

/** A running notebook (or console) session of the lab: its path and its kernel's name. */
export interface IKernelSession {
  id: string;
  path: string;
  kernelName: string;
}

/** What the env, create and disk views need from the application besides the models. */
export interface IViewActions extends IEnvActions {
  openNotebooks(): INotebookRef[];
  /** The lab's running sessions whose kernel is one of `kernelNames`. */
  sessionsUsing(kernelNames: string[]): Promise<IKernelSession[]>;
  /** Shut these sessions' kernels down (the notebooks stay open, without a kernel). */
  shutdownSessions(ids: string[]): Promise<void>;
  switchKernel(notebookId: string, kernelName: string): void;
  confirm(title: string, body: string, accept: string): Promise<boolean>;
  /** Ask for a line of text; `accept` names the action on the button ("Clone"). */
  prompt(
    title: string,
    label: string,
    value: string | undefined,
    accept: string
  ): Promise<string | null>;
  download(file: { text: string; filename: string; type: string }): void;
}

/** Emitted when notebooks open, close or change kernel (views listing them re-render). */
export type NotebooksChanged = ISignal<any, void>;
