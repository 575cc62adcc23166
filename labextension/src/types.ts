/**
 * The shapes of the REST API (jupyter_envmgr/server/openapi.yaml), as the UI reads them.
 */

/**
 * Every kind of progress event the Python side makes (the `event` field of ITaskEvent): one
 * list, held to the Python side's and openapi.yaml's by a test that parses this declaration,
 * so keep one kind per line, sorted. A kind progress.ts's applyEvent does not know is counted
 * and otherwise ignored (`transaction-start` today).
 */
export type EventKind =
  | 'cancel-pending'
  | 'cancelled'
  | 'clean-plan'
  | 'clean-remove'
  | 'done'
  | 'download-done'
  | 'download-progress'
  | 'download-start'
  | 'failed'
  | 'link'
  | 'lock-wait'
  | 'pip-output'
  | 'pip-start'
  | 'plan'
  | 'queued'
  | 'restore'
  | 'restored'
  | 'solve-done'
  | 'solve-start'
  | 'transaction-start'
  | 'unlink'
  | 'usage-walk';

export interface IEnvSize {
  apparent_bytes: number | null;
  real_bytes: number | null;
  own_bytes: number | null;
  shared_bytes: number | null;
  inodes: number | null;
}

export interface IEnvironment {
  /** Null for an env outside every envs dir (known by its prefix only). */
  name: string | null;
  /** What the routes take and the UI opens it by: its name, or `~<folder>-<hash>`. */
  key: string;
  prefix: string;
  is_root: boolean;
  read_only: boolean;
  /** Why it is read-only, in words (null when it is not). */
  read_only_reason: string | null;
  size?: IEnvSize;
}

export interface IPackage {
  name: string;
  version: string;
  build: string;
  channel: string;
  size: number | null;
}

/** An installed package with its insight (engine/package_insight.py). */
export interface IInstalledPackage extends IPackage {
  /** The full URL of the channel; `channel` is its short name. */
  channel_url: string;
  /** The user asked for it (conda-meta/history), with this spec. */
  requested: boolean;
  requested_spec: string | null;
  /** The newest version in the configured channels, when newer. */
  updatable: string | null;
  /** False when a channel's index was not at hand: `updatable` is then unknown. */
  updates_known: boolean;
  /** Why it is installed: the requested packages that pull it in. */
  required_by: string[];
}

export interface IEnvironmentDetail extends IEnvironment {
  packages: IInstalledPackage[];
}

/** GET suggested-specs: specs a new env could start from, all in the channels. */
export interface ISuggestedSpecs {
  specs: string[];
  channels: string[];
}

export interface ISearchResult extends IPackage {
  subdir: string;
  depends: string[];
}

export interface IRevision {
  number: number;
  date: string;
  cmd: string;
  added: string[];
  removed: string[];
}

export interface IKernel {
  name: string;
  /** Other names that start it: those nb_conda_kernels gave it (never kernelspecs). */
  aliases: string[];
  display_name: string;
  language: string;
  env: { name: string | null; key: string; prefix: string; is_root: boolean };
  resource_dir: string;
  argv: string[];
  generated: boolean;
}

export type TaskState =
  | 'queued'
  | 'running'
  | 'waiting'
  | 'done'
  | 'failed'
  | 'cancelled';

export const FINAL_STATES: ReadonlyArray<TaskState> = [
  'done',
  'failed',
  'cancelled'
];

export type TaskKind =
  | 'create'
  | 'install'
  | 'update'
  | 'update-all'
  | 'remove'
  | 'rollback'
  | 'sync'
  | 'delete'
  | 'clean';

export interface ITaskError {
  message: string;
  reason: string;
  status?: number;
}

export interface ITask {
  id: string;
  kind: TaskKind;
  env: string | null;
  state: TaskState;
  created: number;
  result: { [key: string]: any } | null;
  error: ITaskError | null;
  event_count: number;
}

export interface ITaskWithEvents extends ITask {
  events: ITaskEvent[];
}

export interface ITaskEvent {
  /** Typed, so that a misspelt kind in a `case` or comparison fails the build. */
  event: EventKind;
  time: number;
  [key: string]: any;
}

export interface IPlanRecord extends IPackage {
  [key: string]: any;
}

export interface IPlan {
  prefix: string;
  add: IPlanRecord[];
  remove: IPlanRecord[];
  change: { from: IPlanRecord; to: IPlanRecord; kind: string }[];
  download_bytes: number;
  download_count: number;
}

export type CleanCategory =
  | 'index-cache'
  | 'tarballs'
  | 'packages'
  | 'locks'
  | 'all';

export interface ICleanItem {
  category: string;
  name: string;
  paths: string[];
  bytes: number;
  inodes: number;
  apparent_bytes: number;
  entries: number;
}

export interface ICleanKept {
  category: string;
  name: string;
  path: string;
  reason: 'in-use' | 'busy' | 'recent';
  envs: string[];
}

export interface ICleanPlan {
  pkgs_dirs: string[];
  categories: string[];
  items: ICleanItem[];
  kept: ICleanKept[];
  by_category: {
    [category: string]: { items: number; bytes: number; inodes: number };
  };
  bytes: number;
  inodes: number;
}

export interface IShare {
  bytes: number;
  inodes: number;
}

export interface IUsageTree {
  kind: 'env' | 'pkgs';
  path: string;
  name: string | null;
  entries: number;
  apparent_bytes: number;
  real_bytes: number;
  inodes: number;
  own_bytes: number;
  own_inodes: number;
  shared_bytes: number;
  shared_inodes: number;
  shared_with: { cache: IShare; envs: IShare; other: IShare };
  unreadable?: number;
}

export interface IFilesystem {
  device: number | null;
  paths: string[];
  total_bytes: number | null;
  free_bytes: number | null;
  total_inodes: number | null;
  free_inodes: number | null;
}

export interface IUsageReport {
  trees: IUsageTree[];
  totals: { [key: string]: number };
  filesystems: IFilesystem[];
  warnings: string[];
}

/** One tree (an env or a package cache) in the report by owner. */
export interface IOwnerTree {
  kind: 'env' | 'pkgs';
  path: string;
  name: string | null;
  /** Per owner's user name, each inode once in this tree. */
  owners: { [user: string]: IShare };
  /** What the asking user owns in it. */
  mine: IShare;
  unreadable: number;
}

/** `GET usage/owners`: bytes and inodes per owner (unix user) across envs and caches. */
export interface IOwnerUsage {
  /** The user the server runs as. */
  user: string;
  /** Per owner's user name, every inode walked counted once. */
  owners: { [user: string]: IShare };
  trees: IOwnerTree[];
  /** The user's biggest package cache entries. */
  cache_entries: ({ path: string } & IShare)[];
  more_cache_entries: number;
  /** The package cache clean acts on for this user; null when they own none. */
  own_cache: string | null;
  /** What `clean --all` would free in own_cache. */
  clean: ({ pkgs_dir: string; items: number } & IShare) | null;
}

export interface ISettings {
  root_prefix: string;
  envs_dirs: string[];
  pkgs_dirs: string[];
  channels: string[];
  channel_alias: string;
  channel_priority: string;
  config_files: string[];
  allowed_channels: string[];
  read_only_envs: string[];
  read_only_dirs: string[];
  pip_index_urls: string[];
  allow_clean: boolean;
}

export type ExportFormat =
  | 'yml'
  | 'from-history'
  | 'explicit'
  | 'conda-lock'
  | 'pixi-lock'
  | 'pixi-lock-v6'
  | 'lock';

export interface ICreateRequest {
  name: string;
  specs?: string[];
  channels?: string[];
  override_channels?: boolean;
  file?: string;
  filename?: string;
}

/** How an env differs from a notebook's lock (POST notebook/drift). */
export interface INotebookDrift {
  env: { name: string | null; prefix: string; is_root: boolean };
  platform: string;
  locked: boolean;
  count: number;
  added: string[];
  removed: string[];
  changed: string[];
  summary: string;
}

/** `GET environments/<name>/notebook-lock`: what a notebook embeds to carry the env. */
export interface INotebookLock {
  envmgr: { [key: string]: any };
  kernelspec: { name: string; display_name: string; language: string } | null;
}

/** What a batch job runs (`command`, one line) and a few sbatch options, by their long name. */
export interface IBatchRequest {
  command: string;
  time?: string;
  partition?: string;
  'cpus-per-task'?: string;
  mem?: string;
}

/** `GET environments/<name>/batch-script`: the SLURM job script, and whether it can be submitted. */
export interface IBatchScript {
  env: string;
  script: string;
  sbatch_available: boolean;
}

/** `POST environments/<name>/batch-jobs`: the job sbatch queued. */
export interface IBatchJob {
  job_id: number;
  env: string;
  script: string;
  directory: string;
}
