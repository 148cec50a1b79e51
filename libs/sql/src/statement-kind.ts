/** Statement kinds named after their parse node, where the name alone says it. */
const BY_NODE: ReadonlyMap<string, string> = new Map(
  Object.entries({
    SelectStmt: 'select',
    InsertStmt: 'insert',
    UpdateStmt: 'update',
    DeleteStmt: 'delete',
    MergeStmt: 'merge',
    CopyStmt: 'copy',
    VariableShowStmt: 'show',
    ConstraintsSetStmt: 'set',
    LockStmt: 'lock',
    PrepareStmt: 'prepare',
    ExecuteStmt: 'execute',
    DeallocateStmt: 'deallocate',
    DeclareCursorStmt: 'declare',
    ClosePortalStmt: 'close',
    ExplainStmt: 'explain',
    CallStmt: 'call',
    DoStmt: 'do',
    TruncateStmt: 'truncate',
    ListenStmt: 'listen',
    UnlistenStmt: 'unlisten',
    NotifyStmt: 'notify',
    CheckPointStmt: 'checkpoint',
    DiscardStmt: 'discard',
    LoadStmt: 'load',
    ClusterStmt: 'cluster',
    ReindexStmt: 'reindex',
    RefreshMatViewStmt: 'refresh',
    CommentStmt: 'comment',
    SecLabelStmt: 'security_label',
    ReassignOwnedStmt: 'reassign',
    ImportForeignSchemaStmt: 'import',
    // DDL whose node name does not start with Create/Alter/Drop.
    CreateTableAsStmt: 'create',
    ViewStmt: 'create',
    IndexStmt: 'create',
    RuleStmt: 'create',
    DefineStmt: 'create',
    CompositeTypeStmt: 'create',
    RenameStmt: 'alter',
  }),
);

const TRANSACTION_KINDS: ReadonlyMap<string, string> = new Map(
  Object.entries({
    TRANS_STMT_BEGIN: 'begin',
    TRANS_STMT_START: 'begin',
    TRANS_STMT_COMMIT: 'commit',
    TRANS_STMT_ROLLBACK: 'rollback',
    TRANS_STMT_SAVEPOINT: 'savepoint',
    TRANS_STMT_RELEASE: 'release',
    TRANS_STMT_ROLLBACK_TO: 'rollback',
    TRANS_STMT_PREPARE: 'prepare_transaction',
    TRANS_STMT_COMMIT_PREPARED: 'commit_prepared',
    TRANS_STMT_ROLLBACK_PREPARED: 'rollback_prepared',
  }),
);

/**
 * The lower-case kind of a top-level statement from its parse node name and body: `select`, `copy`, `set`,
 * `reset`, `begin`, `fetch`, `move`, `grant`, `revoke`, `vacuum`, `analyze`, `create`, `alter`, `drop`, … and
 * `other` for anything not listed.
 */
export function statementKind(nodeName: string, body: Readonly<Record<string, unknown>>): string {
  const named = BY_NODE.get(nodeName);
  if (named !== undefined) return named;
  switch (nodeName) {
    case 'VariableSetStmt':
      return body['kind'] === 'VAR_RESET' || body['kind'] === 'VAR_RESET_ALL' ? 'reset' : 'set';
    case 'TransactionStmt':
      return TRANSACTION_KINDS.get(String(body['kind'])) ?? 'other';
    case 'FetchStmt':
      return body['ismove'] === true ? 'move' : 'fetch';
    case 'GrantStmt':
    case 'GrantRoleStmt':
      return body['is_grant'] === true ? 'grant' : 'revoke';
    case 'VacuumStmt':
      return body['is_vacuumcmd'] === true ? 'vacuum' : 'analyze';
  }
  if (nodeName.startsWith('Create')) return 'create';
  if (nodeName.startsWith('Alter')) return 'alter';
  if (nodeName.startsWith('Drop')) return 'drop';
  return 'other';
}

/** Leading keywords that name a kind, for statements the parser refused (a Map: no `constructor` surprises). */
const BY_KEYWORD: ReadonlyMap<string, string> = new Map(
  Object.entries({
    select: 'select',
    table: 'select',
    values: 'select',
    insert: 'insert',
    update: 'update',
    delete: 'delete',
    merge: 'merge',
    copy: 'copy',
    set: 'set',
    reset: 'reset',
    show: 'show',
    lock: 'lock',
    begin: 'begin',
    start: 'begin',
    commit: 'commit',
    end: 'commit',
    rollback: 'rollback',
    abort: 'rollback',
    savepoint: 'savepoint',
    release: 'release',
    prepare: 'prepare',
    execute: 'execute',
    deallocate: 'deallocate',
    declare: 'declare',
    fetch: 'fetch',
    move: 'move',
    close: 'close',
    explain: 'explain',
    call: 'call',
    do: 'do',
    create: 'create',
    alter: 'alter',
    drop: 'drop',
    grant: 'grant',
    revoke: 'revoke',
    truncate: 'truncate',
    vacuum: 'vacuum',
    analyze: 'analyze',
    analyse: 'analyze',
    listen: 'listen',
    unlisten: 'unlisten',
    notify: 'notify',
    checkpoint: 'checkpoint',
    discard: 'discard',
    cluster: 'cluster',
    reindex: 'reindex',
    refresh: 'refresh',
    comment: 'comment',
  }),
);

/**
 * Best guess at the kind of a statement the parser refused, from its first word (`COPY public.t TO stdout WITH (`
 * truncated is still a `copy`); `other` when the first word is not a statement keyword. Expects redacted text.
 */
export function guessKind(redacted: string): string {
  const word = /^[\s(]*([A-Za-z]+)/.exec(redacted)?.[1]?.toLowerCase();
  return (word !== undefined ? BY_KEYWORD.get(word) : undefined) ?? 'other';
}
