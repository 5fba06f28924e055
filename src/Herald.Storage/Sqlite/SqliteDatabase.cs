using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

/// <summary>
/// One SQLite database file: a single long-lived writer connection behind an in-process gate (SQLite allows one
/// writer; queueing here is cheaper and fairer than retrying SQLITE_BUSY), pooled reader connections that run
/// concurrently under WAL, and the in-process wake-up signal for workers.
/// </summary>
internal sealed class SqliteDatabase : IDisposable
{
    private readonly SemaphoreSlim _writerGate = new(1, 1);
    private readonly Dictionary<string, SqliteCommand> _writerCommands = new(StringComparer.Ordinal);
    private SqliteConnection? _writer;
    private bool _writerDurable = true;
    private bool _disposed;

    public SqliteDatabase(string connectionString, TimeProvider time)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString)
        {
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
        };
        if (string.IsNullOrWhiteSpace(builder.DataSource) || builder.DataSource.Trim() == ":memory:")
        {
            throw new ArgumentException("The embedded store needs a database file (Data Source=path); in-memory databases are not supported.", nameof(connectionString));
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        OwnerOnly(Path.GetFullPath(builder.DataSource));

        ConnectionString = builder.ToString();
        Time = time;
        Signal = new WorkSignal(time);
    }

    /// <summary>
    /// The database holds customers' data (sealed, but with its tenants' wrapped keys) and, in the embedded mode, sits
    /// beside the key file: only its owner may read it (issue #17). A new file is created empty with mode 0600 before
    /// SQLite opens it (SQLite creates the -wal and -shm files with the database file's mode); an existing database and
    /// its -wal and -shm are narrowed to 0600 when group or others could read them.
    /// </summary>
    internal static void OwnerOnly(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (!File.Exists(path))
        {
            try
            {
                using var created = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = ownerOnly });
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first; narrowed below.
            }
        }

        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            if (File.Exists(file) && (File.GetUnixFileMode(file) & ~ownerOnly & ~UnixFileMode.UserExecute) != 0)
            {
                File.SetUnixFileMode(file, ownerOnly);
            }
        }
    }

    public string ConnectionString { get; }
    public TimeProvider Time { get; }
    public WorkSignal Signal { get; }

    /// <summary>Runs <paramref name="work"/> in one write transaction (BEGIN IMMEDIATE) on the writer connection.</summary>
    /// <param name="durable">False for writes whose loss in a power cut is harmless (claim leases, aging): their commit
    /// skips the fsync, which dominates small transactions. WAL keeps order, so the next durable commit syncs them too.</param>
    /// <param name="foreignKeysOff">For schema migrations that rebuild a table (SQLite's documented procedure): foreign
    /// keys are switched off for this transaction only, and checked in full before it commits.</param>
    public async Task<T> WriteAsync<T>(Func<WriteScope, T> work, CancellationToken ct, bool durable = true, bool foreignKeysOff = false)
    {
        await _writerGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var connection = _writer ??= OpenWriter();
            if (durable != _writerDurable)
            {
                using var pragma = connection.CreateCommand();
                pragma.CommandText = durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
                pragma.ExecuteNonQuery();
                _writerDurable = durable;
            }

            if (foreignKeysOff)
            {
                // A no-op inside a transaction, so it goes before BEGIN.
                Pragma(connection, "PRAGMA foreign_keys = OFF");
            }

            try
            {
                using var transaction = connection.BeginTransaction(deferred: false);
                var result = work(new WriteScope(connection, transaction, _writerCommands, ct));
                if (foreignKeysOff)
                {
                    using var check = connection.CreateCommand();
                    check.Transaction = transaction;
                    check.CommandText = "SELECT \"table\" FROM pragma_foreign_key_check LIMIT 1";
                    if (check.ExecuteScalar() is string table)
                    {
                        throw new InvalidOperationException($"Foreign key violation in table {table} after a schema change.");
                    }
                }

                transaction.Commit();
                return result;
            }
            finally
            {
                if (foreignKeysOff)
                {
                    Pragma(connection, "PRAGMA foreign_keys = ON");
                }
            }
        }
        finally
        {
            _writerGate.Release();
        }
    }

    private static void Pragma(SqliteConnection connection, string sql)
    {
        using var pragma = connection.CreateCommand();
        pragma.CommandText = sql;
        pragma.ExecuteNonQuery();
    }

    /// <summary>Runs <paramref name="work"/> on a pooled reader connection; readers do not wait for the writer.</summary>
    public async Task<T> ReadAsync<T>(Func<SqliteConnection, T> work, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        await using var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(ct).ConfigureAwait(false);
        return work(connection);
    }

    private SqliteConnection OpenWriter()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        // WAL: readers never block the writer. synchronous=FULL: a commit is on disk before it returns, because
        // 202 means durable (SPEC §2); NORMAL could lose the last commits on power loss.
        pragma.CommandText = """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            PRAGMA busy_timeout = 10000;
            PRAGMA foreign_keys = ON;
            """;
        pragma.ExecuteNonQuery();
        return connection;
    }

    public void Dispose()
    {
        _writerGate.Wait();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var command in _writerCommands.Values)
            {
                command.Dispose();
            }

            _writerCommands.Clear();
            if (_writer is not null)
            {
                // Close the pooled reader connections too, so the file is released when the store goes away.
                SqliteConnection.ClearPool(_writer);
                _writer.Dispose();
                _writer = null;
            }
            else
            {
                using var probe = new SqliteConnection(ConnectionString);
                SqliteConnection.ClearPool(probe);
            }
        }
        finally
        {
            _writerGate.Release();
        }
    }
}

/// <summary>The writer's open transaction, with prepared commands reused across transactions.</summary>
internal readonly struct WriteScope(SqliteConnection connection, SqliteTransaction transaction, Dictionary<string, SqliteCommand> cache, CancellationToken ct)
{
    public SqliteConnection Connection => connection;
    public CancellationToken CancellationToken => ct;

    /// <summary>A prepared command for <paramref name="sql"/>, bound to the current transaction.</summary>
    public SqliteCommand Command(string sql)
    {
        if (!cache.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            cache[sql] = command;
        }

        command.Transaction = transaction;
        return command;
    }

    /// <summary>A one-off command (dynamic SQL, scripts), bound to the current transaction.</summary>
    public SqliteCommand OneOff(string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    public int OneOffNonQuery(string sql)
    {
        using var command = OneOff(sql);
        return command.ExecuteNonQuery();
    }
}

/// <summary>
/// In-process wake-up for <see cref="IDeliveryStore.WaitForWorkAsync"/>. A signal completes every current waiter and
/// is remembered until the next wait, so a signal raised between a worker's empty claim and its wait is not lost
/// (at the price of one spurious early return).
/// </summary>
internal sealed class WorkSignal(TimeProvider time)
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _waiters = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _pending;

    public void Raise()
    {
        TaskCompletionSource fired;
        lock (_lock)
        {
            _pending = true;
            fired = _waiters;
            _waiters = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        fired.TrySetResult();
    }

    public async Task WaitAsync(TimeSpan maxWait, CancellationToken ct)
    {
        Task signalled;
        lock (_lock)
        {
            if (_pending)
            {
                _pending = false;
                return;
            }

            signalled = _waiters.Task;
        }

        if (maxWait <= TimeSpan.Zero)
        {
            return;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var delay = Task.Delay(maxWait, time, timeout.Token);
        var first = await Task.WhenAny(signalled, delay).ConfigureAwait(false);
        await timeout.CancelAsync().ConfigureAwait(false);
        if (first == signalled)
        {
            lock (_lock)
            {
                _pending = false;
            }
        }

        ct.ThrowIfCancellationRequested();
    }
}
