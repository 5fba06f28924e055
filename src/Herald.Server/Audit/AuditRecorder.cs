using System.Net;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Herald.Server.Authentication;
using Herald.Server.Sources;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Audit;

/// <summary>
/// How an endpoint records what it is about to change: <c>using var audit = context.Audit(...)</c> right before the
/// one store call that makes the change. The store appends the entry in that write's transaction
/// (<see cref="AuditScope"/>), so a refused or failed change leaves none. The diff holds only the members that
/// differ, taken from the API's own views (which already leave credentials out) and redacted again by name.
/// </summary>
public static class AuditRecorder
{
    /// <summary>What every redacted value is replaced with.</summary>
    public const string Redacted = "[redacted]";

    private const int MaxRequestIdLength = 128;

    /// <summary>Records the act in <paramref name="tenantId"/>'s chain (null: the system chain) with the store writes made
    /// until the handle is disposed.</summary>
    /// <param name="resourceId">Which resource; empty when the store creates its id (it fills it in).</param>
    /// <param name="before">The resource as it was (null: created).</param>
    /// <param name="after">The resource as it will be (null: deleted).</param>
    /// <param name="personal">Members holding a person's data (a customer's contacts): the diff names them when they
    /// change but keeps no value, so erasing the customer leaves none of it in the trail.</param>
    public static IDisposable Audit(
        this HttpContext context, Guid? tenantId, string action, string resourceType, string resourceId, JsonNode? before, JsonNode? after,
        IReadOnlySet<string>? personal = null) =>
        AuditScope.Expect(Change(context, tenantId, action, resourceType, resourceId, before, after, personal));

    /// <summary>
    /// The revocation of a tenant API key, for the key endpoints: wrap the one store call that revokes it. The store
    /// records it in its write's transaction with one line: PostgreSQL,
    /// <c>PostgresAuditStore.WriteAsync(dataSource, connection =&gt; …revoke…, revoked =&gt; revoked, ct)</c>; SQLite,
    /// <c>SqliteAuditStore.Audited(scope, command.ExecuteNonQuery())</c> inside <c>db.WriteAsync</c>.
    /// </summary>
    public static IDisposable AuditKeyRevocation(this HttpContext context, Guid tenantId, Guid keyId, string prefix) =>
        context.Audit(tenantId, "key.revoke", "key", keyId.ToString("D"),
            new JsonObject { ["prefix"] = prefix, ["revoked"] = false }, new JsonObject { ["prefix"] = prefix, ["revoked"] = true });

    /// <summary>The act as an <see cref="AuditChange"/>, for a caller that appends it itself (<see cref="IAuditStore.AppendAsync"/>).</summary>
    public static AuditChange Change(
        HttpContext context, Guid? tenantId, string action, string resourceType, string resourceId, JsonNode? before, JsonNode? after,
        IReadOnlySet<string>? personal = null)
    {
        var time = context.RequestServices.GetRequiredService<TimeProvider>();
        return new AuditChange(tenantId, time.GetUtcNow(), Actor(context), action, resourceType, resourceId, Diff(before, after, personal));
    }

    /// <summary>A value as a JSON node through its source-generated contract, for <see cref="Audit"/>'s before and after.</summary>
    public static JsonNode? Node<T>(T? value, JsonTypeInfo<T> type) => value is null ? null : JsonSerializer.SerializeToNode(value, type);

    /// <summary><paramref name="node"/> without the members named (bookkeeping such as <c>updatedAt</c> that every change
    /// moves and that would only be noise in a diff).</summary>
    public static JsonNode? Without(JsonNode? node, params string[] names)
    {
        if (node is JsonObject obj)
        {
            foreach (var name in names)
            {
                obj.Remove(name);
            }
        }

        return node;
    }

    /// <summary>Who is acting: the tenant key (<c>key {id} ({prefix})</c>) or <c>system</c>, with the request's id and
    /// the client's address through the trusted proxies.</summary>
    public static AuditActor Actor(HttpContext context)
    {
        var user = context.User;
        string name;
        Guid? keyId = null;
        if (user.FindFirstValue(ApiKeyAuthenticationHandler.KeyClaim) is { } key)
        {
            name = key;
            // "key {id} ({prefix})"
            var parts = key.Split(' ');
            if (parts.Length >= 2 && Guid.TryParse(parts[1], out var id))
            {
                keyId = id;
            }
        }
        else
        {
            name = user.IsInRole(Roles.System) ? AuditActor.System : "anonymous";
        }

        return new AuditActor(name, keyId, RequestId(context), ClientAddress(context));
    }

    /// <summary>The proxy's <c>X-Request-Id</c> when it sent a plausible one (so the entry matches the proxy's log), else the host's own id.</summary>
    public static string RequestId(HttpContext context)
    {
        var header = context.Request.Headers["X-Request-Id"].ToString();
        return header.Length is > 0 and <= MaxRequestIdLength && header.All(c => c is > ' ' and < (char)127) ? header : context.TraceIdentifier;
    }

    /// <summary>
    /// The client's address: the connection's peer, unless that peer is one of Herald's trusted proxies
    /// (<c>Herald:Sources:TrustedProxies</c>); then the right-most <c>X-Forwarded-For</c> address that is not a trusted proxy
    /// (addresses further left were written by the client itself and prove nothing).
    /// </summary>
    public static string? ClientAddress(HttpContext context)
    {
        var remote = Normalise(context.Connection.RemoteIpAddress);
        var proxies = context.RequestServices.GetRequiredService<IOptions<SourcesOptions>>().Value.TrustedProxies;
        var trusted = proxies.Count == 0 ? [] : SourcesOptions.ParseTrustedProxies(proxies) ?? [];
        if (remote is null || !trusted.Any(n => n.Contains(remote)))
        {
            return remote?.ToString();
        }

        var hops = context.Request.Headers["X-Forwarded-For"].ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        for (var i = hops.Length - 1; i >= 0; i--)
        {
            if (!IPAddress.TryParse(hops[i], out var hop))
            {
                break;
            }

            hop = Normalise(hop)!;
            if (!trusted.Any(n => n.Contains(hop)))
            {
                return hop.ToString();
            }
        }

        return remote.ToString();
    }

    private static IPAddress? Normalise(IPAddress? address) => address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;

    /// <summary>
    /// The diff as JSON text: <c>{"before": {...}, "after": {...}}</c> with the top-level members that differ (all of them
    /// for a create or a delete), credentials redacted by name at any depth. A credential that changed shows as a
    /// redacted member on both sides, so a rotation is visible without its value.
    /// </summary>
    public static string? Diff(JsonNode? before, JsonNode? after, IReadOnlySet<string>? personal = null)
    {
        if (before is null && after is null)
        {
            return null;
        }

        var diff = new JsonObject();
        if (before is JsonObject b && after is JsonObject a)
        {
            var was = new JsonObject();
            var now = new JsonObject();
            foreach (var name in b.Select(p => p.Key).Union(a.Select(p => p.Key), StringComparer.Ordinal))
            {
                var old = b[name];
                var next = a[name];
                if (!JsonNode.DeepEquals(old, next))
                {
                    was[name] = Mask(name, old, personal);
                    now[name] = Mask(name, next, personal);
                }
            }

            diff["before"] = was;
            diff["after"] = now;
        }
        else
        {
            if (before is not null)
            {
                diff["before"] = MaskAll(before, personal);
            }

            if (after is not null)
            {
                diff["after"] = MaskAll(after, personal);
            }
        }

        return diff.ToJsonString();
    }

    /// <summary>Whether a member name holds a credential: secrets, passwords, tokens, keys, certificates' private parts.</summary>
    public static bool IsSecretName(string name)
    {
        var n = name.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();
        return n.Contains("secret", StringComparison.Ordinal) || n.Contains("password", StringComparison.Ordinal)
            || n.Contains("token", StringComparison.Ordinal) || n.Contains("apikey", StringComparison.Ordinal)
            || n.Contains("privatekey", StringComparison.Ordinal) || n.Contains("credential", StringComparison.Ordinal)
            || n.Contains("authorization", StringComparison.Ordinal) || n is "key" or "pass" or "pin" or "serviceaccount";
    }

    /// <summary>The value of a member kept only as "there is one" when it is personal data.</summary>
    public const string Personal = "[personal data]";

    private static JsonNode? Mask(string name, JsonNode? node, IReadOnlySet<string>? personal) =>
        personal is not null && personal.Contains(name) && node is not null ? JsonValue.Create(Personal) : Redact(name, node);

    private static JsonNode? MaskAll(JsonNode node, IReadOnlySet<string>? personal) =>
        node is JsonObject obj && personal is not null
            ? new JsonObject(obj.Select(p => KeyValuePair.Create(p.Key, Mask(p.Key, p.Value, personal))))
            : Redact("", node);

    /// <summary>A redacted copy of <paramref name="node"/>, the value of a member named <paramref name="name"/>.</summary>
    private static JsonNode? Redact(string name, JsonNode? node) => node switch
    {
        null => null,
        _ when name.Length > 0 && IsSecretName(name) => JsonValue.Create(Redacted),
        JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(p.Key, Redact(p.Key, p.Value)))),
        JsonArray array => new JsonArray([.. array.Select(item => Redact("", item))]),
        _ => node.DeepClone(),
    };
}
