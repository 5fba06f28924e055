namespace Herald.Storage;

// The store contracts. PostgreSQL (production) and SQLite (embedded) implement every one of them and pass the
// same compliance suite (tests/Herald.Storage.Tests/Compliance). All times come from the caller's TimeProvider
// unless a member says otherwise, so tests can drive the clock.
//
// Rules every backend keeps (the suite checks each one):
// - Times are stored in UTC truncated to the whole millisecond. Every time passed in (timestamps, "now", query
//   bounds) is truncated the same way, and a time read back equals the written time so truncated; records a
//   create method returns carry the stored (truncated) times.
// - JSON payloads (NewNotification.DataJson, ProviderAccount.Settings) come back as equivalent JSON, not
//   necessarily the same text: whitespace and key order may change.
// - Referential checks are the caller's job on the hot paths: a notification's tenant is not checked (see
//   INotificationStore.AcceptAsync). API keys and provider accounts, off the hot path, are checked against their
//   tenant by both backends (foreign keys).

/// <summary>Applies the schema migrations this build knows, in order, once each.</summary>
public interface IStorageMigrator
{
    Task MigrateAsync(CancellationToken ct);
    /// <summary>Migrations this build knows that the database has not applied.</summary>
    Task<IReadOnlyList<string>> PendingAsync(CancellationToken ct);
}

/// <summary>Whether the store answers, for /readyz.</summary>
public interface IStorageHealth
{
    Task<bool> IsReadyAsync(CancellationToken ct);
}
