namespace Herald.Storage;

/// <summary>The kinds of configuration change announced over the <see cref="IChangeFeed"/>.</summary>
public static class ChangeKinds
{
    /// <summary>A tenant stored a new rule-set version; the key is the version number.</summary>
    public const string Rules = "rules";

    /// <summary>A stored customer was created, changed or deleted; the key is the customer id.</summary>
    public const string Customer = "customer";

    /// <summary>A tenant's templates were saved or deleted; the key is "*".</summary>
    public const string Templates = "templates";

    /// <summary>Provider accounts were created, changed or deleted; the key is the account id, or "*" for several.</summary>
    public const string Providers = "providers";

    /// <summary>An operator reset a provider account's circuit; the key is the account id.</summary>
    public const string ProviderReset = "provider-reset";

    /// <summary>An API key was created or revoked; the key is the API key's id. Nodes drop their cached copy.</summary>
    public const string ApiKeys = "api-keys";

    /// <summary>A tenant's consent ledger grew (issue #16); the key is "*". Nodes reload the tenant's opt-out view.</summary>
    public const string Consents = "consents";
}

/// <summary>
/// One announced change: a kind, a tenant and a key, travelling as <c>kind:tenant:key</c>. It carries no data, so a
/// receiver reloads from the store or drops a cache entry, and a duplicate or stale message is harmless.
/// </summary>
public sealed record Change(string Kind, Guid TenantId, string Key)
{
    /// <summary>pg_notify refuses payloads of 8,000 bytes or more; keys are ids, far below.</summary>
    public const int MaxKeyLength = 1024;

    /// <summary>Whether <paramref name="key"/> can travel (longer keys cannot be announced; the safety nets cover them).</summary>
    public static bool Fits(string key) => key.Length <= MaxKeyLength;

    /// <summary>The wire form, <c>kind:tenant:key</c>.</summary>
    public string Message
    {
        get
        {
            if (Kind.Contains(':', StringComparison.Ordinal) || !Fits(Key))
            {
                throw new ArgumentException($"A change kind has no ':' and a key at most {MaxKeyLength} characters.");
            }

            return $"{Kind}:{TenantId:D}:{Key}";
        }
    }

    /// <summary>Parses <c>kind:tenant:key</c>; null for anything else (a foreign or malformed message).</summary>
    public static Change? FromMessage(string? message)
    {
        var cut = message?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        // kind ":" 36-character tenant ":" key
        if (cut <= 0 || message!.Length < cut + 38 || message[cut + 37] != ':'
            || !Guid.TryParseExact(message.AsSpan(cut + 1, 36), "D", out var tenantId))
        {
            return null;
        }

        return new Change(message[..cut], tenantId, message[(cut + 38)..]);
    }
}

/// <summary>Something a node keeps in memory that a change (this node's or another's) can make stale.</summary>
public interface IChangeSubscriber
{
    /// <summary>The <see cref="ChangeKinds"/> value this subscriber handles.</summary>
    string Kind { get; }

    /// <summary><paramref name="key"/> of <paramref name="tenantId"/> changed. Messages can arrive more than once (once
    /// per path) and out of order: handlers reload or forget rather than apply a payload.</summary>
    /// <param name="via">Which path brought the message: <see cref="ChangeFeed.Local"/> (a store of this node, right
    /// after its commit), <see cref="ChangeFeed.Postgres"/> or <see cref="ChangeFeed.Redis"/>.</param>
    Task OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct);

    /// <summary>Messages may have been lost (the PostgreSQL listener was down): converge now.</summary>
    Task OnMessagesLostAsync(CancellationToken ct);
}

/// <summary>
/// The node's one change feed. Configuration stores announce their changes on it as part of their own write: with
/// PostgreSQL the NOTIFY is sent inside the writing transaction (so nothing is announced that was not committed), and
/// right after the commit this node's subscribers hear it and it is published on Redis. Other nodes hear it over
/// PostgreSQL LISTEN/NOTIFY and over Redis pub/sub (either alone suffices); SQLite runs one node, so the local path is
/// all there is. What every path loses is caught by each subscriber's own safety net (the rules' poll, the caches'
/// TTLs) and by <see cref="IChangeSubscriber.OnMessagesLostAsync"/> after the listener reconnects. The same PostgreSQL
/// connection carries the delivery queue's wake-ups (<see cref="IDeliveryStore.WaitForWorkAsync"/>).
/// </summary>
public interface IChangeFeed
{
    /// <summary>Adds a subscriber until the returned handle is disposed; starts listening if not yet.</summary>
    IDisposable Subscribe(IChangeSubscriber subscriber);

    /// <summary>Starts listening on every configured path (idempotent; subscribing or waiting for work starts it too).</summary>
    void Start();

    /// <summary>Announces a change that no store write carries (an operator's command, such as a circuit reset): to
    /// this node's subscribers, then to the others. Best effort on each remote path.</summary>
    Task PublishAsync(Change change, CancellationToken ct);

    /// <summary>Completes once LISTEN is in place (at once without PostgreSQL): tests wait on it before changing things.</summary>
    Task Listening { get; }

    /// <summary>Completes once subscribed on Redis (never without Redis).</summary>
    Task RedisSubscribed { get; }
}
