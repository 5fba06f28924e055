using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// API keys over HTTP (issue #17): list, create, revoke for a tenant's admin key and for the system key; validation;
/// expiry; source scope; the last admin key; lastUsedAt; the viewer role's redaction and refused writes. Run on both
/// backends. The hosts cache keys for ten minutes, so a revoked key that is refused was dropped by the announcement,
/// not by the cache running out.
/// </summary>
public abstract class ApiKeysTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    protected abstract HeraldHost Host { get; }

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Settings both backends' hosts add: a long key cache, and uses flushed every 100 ms.</summary>
    public static Dictionary<string, string?> Settings(Dictionary<string, string?> settings) => new(settings)
    {
        ["Herald:ApiKeyCacheDuration"] = "00:10:00",
        ["Herald:ApiKeyUsageFlushInterval"] = "00:00:00.100",
    };

    [Fact]
    public async Task CreateListRevoke_TheKeyIsShownOnce_AndARevokedKeyIsRefusedAtOnce()
    {
        var (_, admin) = await Host.CreateTenantAsync();

        var (id, secret, created) = await CreateKeyAsync(admin, new { name = "Core banking", roles = new[] { "read" } });
        Assert.Equal("Core banking", created.Str("name"));
        Assert.StartsWith(created.Str("prefix"), secret, StringComparison.Ordinal);
        using var reader = Host.Client(secret);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(reader, HttpMethod.Get, "/v1/rules"));

        var listed = (await ListAsync(admin, "/v1/keys")).Single(k => k!["id"]!.GetValue<Guid>() == id)!.AsObject();
        Assert.Equal("Core banking", listed.Str("name"));
        Assert.Equal(["read"], listed["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        Assert.False(listed.ContainsKey("key"));
        Assert.False(listed.ContainsKey("keyHash"));
        Assert.Null(listed["revokedAt"]);
        Assert.DoesNotContain(secret, (await ListRawAsync(admin, "/v1/keys")), StringComparison.Ordinal);

        using (var revoke = await admin.DeleteAsync($"/v1/keys/{id}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(reader, HttpMethod.Get, "/v1/rules"));
        Assert.NotNull((await ListAsync(admin, "/v1/keys")).Single(k => k!["id"]!.GetValue<Guid>() == id)!["revokedAt"]);
        using var again = await admin.DeleteAsync($"/v1/keys/{id}", Ct);
        Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
    }

    [Fact]
    public async Task CreateKey_BadInput_GetsLocatedProblems_AndCreatesNothing()
    {
        var (_, admin) = await Host.CreateTenantAsync();
        var before = (await ListAsync(admin, "/v1/keys")).Count;

        var errors = await ProblemPointersAsync(admin, "/v1/keys", new { roles = new[] { "read", "root" }, expiresAt = "2001-01-01T00:00:00Z" });
        Assert.Equal(["/expiresAt", "/name", "/roles"], errors.Order());
        Assert.Equal(["/name"], await ProblemPointersAsync(admin, "/v1/keys", new { name = new string('n', 101), roles = new[] { "read" } }));
        Assert.Equal(["/name"], await ProblemPointersAsync(admin, "/v1/keys", new { name = "  ", roles = new[] { "read" } }));
        Assert.Equal(["/roles"], await ProblemPointersAsync(admin, "/v1/keys", new { name = "x", roles = Array.Empty<string>() }));
        Assert.Equal(["/roles"], await ProblemPointersAsync(admin, "/v1/keys", new { name = "x", roles = new[] { "system" } }));

        Assert.Equal(before, (await ListAsync(admin, "/v1/keys")).Count);
    }

    [Fact]
    public async Task SourceScope_OfAnotherTenant_IsRefusedExactlyLikeAMissingSource()
    {
        var (tenantA, adminA) = await Host.CreateTenantAsync("Bank A");
        var (_, adminB) = await Host.CreateTenantAsync("Bank B");
        var sourceB = await CreateSourceAsync(adminB);
        var sourceA = await CreateSourceAsync(adminA);

        var foreign = await ProblemAsync(adminA, "/v1/keys", new { name = "x", roles = new[] { "send" }, sourceId = sourceB });
        var missing = await ProblemAsync(adminA, "/v1/keys", new { name = "x", roles = new[] { "send" }, sourceId = Guid.NewGuid() });
        Assert.Equal("/sourceId", foreign["errors"]![0].Str("pointer"));
        Assert.Equal(missing.ToJsonString(), foreign.ToJsonString());
        // The system key's path checks it too (it accepted any id before).
        var bySystem = await ProblemAsync(Host.Admin, $"/v1/admin/tenants/{tenantA}/keys", new { roles = new[] { "send" }, sourceId = sourceB });
        Assert.Equal("/sourceId", bySystem["errors"]![0].Str("pointer"));

        var (scopedId, _, scoped) = await CreateKeyAsync(adminA, new { name = "cards", roles = new[] { "send" }, sourceId = sourceA });
        Assert.Equal(sourceA, scoped["sourceId"]!.GetValue<Guid>());

        // A source-scoped admin key manages no keys: it could otherwise mint a key for the whole tenant.
        var (_, scopedAdmin, _) = await CreateKeyAsync(adminA, new { name = "cards admin", roles = new[] { "admin" }, sourceId = sourceA });
        using var narrow = Host.Client(scopedAdmin);
        Assert.Equal(HttpStatusCode.Forbidden, await SendJsonAsync(narrow, HttpMethod.Post, "/v1/keys", new { name = "wide", roles = new[] { "admin" } }));
        Assert.Equal(HttpStatusCode.Forbidden, await SendJsonAsync(narrow, HttpMethod.Post, $"/v1/admin/tenants/{tenantA}/keys", new { name = "wide", roles = new[] { "admin" } }));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(narrow, HttpMethod.Delete, $"/v1/keys/{scopedId}"));
    }

    [Fact]
    public async Task ExpiredKey_IsRefused_WhileTheCacheStillHoldsIt()
    {
        var (_, admin) = await Host.CreateTenantAsync();
        var expiresAt = TimeProvider.System.GetUtcNow().AddSeconds(5);
        var (_, secret, created) = await CreateKeyAsync(admin, new { name = "short-lived", roles = new[] { "read" }, expiresAt });
        Assert.Equal(expiresAt.ToUnixTimeMilliseconds(), created["expiresAt"]!.GetValue<DateTimeOffset>().ToUnixTimeMilliseconds());
        using var reader = Host.Client(secret);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(reader, HttpMethod.Get, "/v1/rules"));

        await TestData.EventuallyAsync(() => StatusAsync(reader, HttpMethod.Get, "/v1/rules"), s => s == HttpStatusCode.Unauthorized, Deadline,
            "the expired key to be refused");
    }

    [Fact]
    public async Task LastAdminKey_CannotBeRevokedByTheTenant_TheSystemKeyMay()
    {
        var (tenantId, admin) = await Host.CreateTenantAsync();
        var ownId = (await ListAsync(admin, "/v1/keys")).Single()!["id"]!.GetValue<Guid>();

        var refused = await admin.DeleteAsync($"/v1/keys/{ownId}", Ct);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("last-admin-key", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(admin, HttpMethod.Get, "/v1/keys"));

        // Rotation: a new admin key first, then the old one may go.
        var (_, newSecret, _) = await CreateKeyAsync(admin, new { name = "admin 2026", roles = new[] { "admin" } });
        using var rotated = Host.Client(newSecret);
        using (var revoked = await rotated.DeleteAsync($"/v1/keys/{ownId}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(admin, HttpMethod.Get, "/v1/keys"));
        var newId = (await ListAsync(rotated, "/v1/keys")).Single(k => k!["revokedAt"] is null)!["id"]!.GetValue<Guid>();
        using (var system = await Host.Admin.DeleteAsync($"/v1/admin/tenants/{tenantId}/keys/{newId}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, system.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(rotated, HttpMethod.Get, "/v1/keys"));
    }

    [Fact]
    public async Task SystemKey_ListsCreatesAndRevokesATenantsKeys_TenantsCannotReachEachOther()
    {
        var (tenantA, adminA) = await Host.CreateTenantAsync("Bank A");
        var (tenantB, adminB) = await Host.CreateTenantAsync("Bank B");

        var (idA, secretA, created) = await CreateKeyAsync(Host.Admin, new { name = "ops", roles = new[] { "read" } }, $"/v1/admin/tenants/{tenantA}/keys");
        Assert.Equal("ops", created.Str("name"));
        var listed = await ListAsync(Host.Admin, $"/v1/admin/tenants/{tenantA}/keys");
        Assert.Contains(listed, k => k!["id"]!.GetValue<Guid>() == idA);
        // The SPEC §6 bootstrap call (no name) still works; its key is named "bootstrap".
        Assert.Contains(listed, k => k.Str("name") == "bootstrap");

        // Tenant B's admin sees none of A's keys and cannot revoke them; nor use the system key's paths.
        Assert.DoesNotContain(await ListAsync(adminB, "/v1/keys"), k => k!["id"]!.GetValue<Guid>() == idA);
        using (var foreign = await adminB.DeleteAsync($"/v1/keys/{idA}", Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(adminB, HttpMethod.Get, $"/v1/admin/tenants/{tenantB}/keys"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(adminA, HttpMethod.Delete, $"/v1/admin/tenants/{tenantA}/keys/{idA}"));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(Host.Admin, HttpMethod.Get, $"/v1/admin/tenants/{Guid.NewGuid()}/keys"));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(Host.Admin, HttpMethod.Delete, $"/v1/admin/tenants/{tenantB}/keys/{idA}"));

        using var reader = Host.Client(secretA);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(reader, HttpMethod.Get, "/v1/rules"));
        Assert.Equal(HttpStatusCode.NoContent, await StatusAsync(Host.Admin, HttpMethod.Delete, $"/v1/admin/tenants/{tenantA}/keys/{idA}"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(reader, HttpMethod.Get, "/v1/rules"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(adminA, HttpMethod.Get, "/v1/keys"));
    }

    [Fact]
    public async Task LastUsedAt_MovesAfterTheKeyIsUsed()
    {
        var (_, admin) = await Host.CreateTenantAsync();
        var (id, secret, _) = await CreateKeyAsync(admin, new { name = "reporting", roles = new[] { "read" } });
        var before = (await ListAsync(admin, "/v1/keys")).Single(k => k!["id"]!.GetValue<Guid>() == id)!.AsObject();
        Assert.True(before.ContainsKey("lastUsedAt"));
        Assert.Null(before["lastUsedAt"]);

        using var reader = Host.Client(secret);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(reader, HttpMethod.Get, "/v1/rules"));

        await TestData.EventuallyAsync(
            async () => (await ListAsync(admin, "/v1/keys")).Single(k => k!["id"]!.GetValue<Guid>() == id)!["lastUsedAt"],
            used => used is not null, Deadline, "lastUsedAt to be written");
    }

    [Fact]
    public async Task Viewer_ReadsEveryFamily_WithContactsRedacted_AndCannotChangeAnything()
    {
        var (_, admin) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        using (var put = await admin.PutAsJsonAsync("/v1/customers/c-view", new { phone, email = "jane@example.com", telegramChatId = "777123" }, Ct))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var (_, secret, _) = await CreateKeyAsync(admin, new { name = "console", roles = new[] { "viewer" } });
        using var viewer = Host.Client(secret);

        var customer = await GetJsonAsync(viewer, "/v1/customers/c-view");
        Assert.Equal("c-view", customer.Str("id"));
        Assert.Equal("[redacted]", customer.Str("phone"));
        Assert.Equal("[redacted]", customer.Str("email"));
        Assert.Equal("[redacted]", customer.Str("telegramChatId"));
        var page = await GetJsonAsync(viewer, "/v1/customers");
        Assert.DoesNotContain(phone, page.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain("jane@example.com", page.ToJsonString(), StringComparison.Ordinal);
        // The admin still reads the contacts.
        Assert.Equal(phone, (await GetJsonAsync(admin, "/v1/customers/c-view")).Str("phone"));

        foreach (var path in new[] { "/v1/rules", "/v1/templates", "/v1/providers", "/v1/webhooks", "/v1/sources", "/v1/keys", "/v1/notifications", "/v1/reports/costs" })
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(viewer, HttpMethod.Get, path));
        }

        Assert.Equal(HttpStatusCode.Forbidden, await SendJsonAsync(viewer, HttpMethod.Post, "/v1/notifications", new { type = "otp", customer = new { phone } }));
        Assert.Equal(HttpStatusCode.Forbidden, await SendJsonAsync(viewer, HttpMethod.Put, "/v1/customers/c-view", new { phone }));
        Assert.Equal(HttpStatusCode.Forbidden, await SendJsonAsync(viewer, HttpMethod.Post, "/v1/keys", new { name = "x", roles = new[] { "admin" } }));
        Assert.Equal(HttpStatusCode.Forbidden, await SendJsonAsync(viewer, HttpMethod.Put, "/v1/rules", new { rules = Array.Empty<object>() }));
        Assert.Equal(HttpStatusCode.Forbidden, await SendJsonAsync(viewer, HttpMethod.Post, "/v1/webhooks", new { url = "https://bank.example/hook" }));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(viewer, HttpMethod.Delete, "/v1/customers/c-view"));
    }

    [Fact]
    public async Task OpenApiDocument_DeclaresTheKeyEndpoints_WithTheirAnswers()
    {
        using var client = Host.Client();
        var paths = JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json", Ct))!["paths"]!;

        Assert.Equal("#/components/schemas/CreatedKeyView",
            paths["/v1/keys"]!["post"]!["responses"]!["201"]!["content"]!["application/json"]!["schema"]!["$ref"]!.GetValue<string>());
        Assert.NotNull(paths["/v1/keys"]!["post"]!["responses"]!["400"]!["content"]!["application/problem+json"]);
        Assert.NotNull(paths["/v1/keys"]!["get"]!["responses"]!["200"]);
        Assert.NotNull(paths["/v1/keys/{keyId}"]!["delete"]!["responses"]!["409"]);
        Assert.NotNull(paths["/v1/admin/tenants/{tenantId}/keys"]!["get"]);
        Assert.NotNull(paths["/v1/admin/tenants/{tenantId}/keys"]!["post"]!["responses"]!["201"]);
        Assert.NotNull(paths["/v1/admin/tenants/{tenantId}/keys/{keyId}"]!["delete"]!["responses"]!["204"]);
    }

    private static async Task<(Guid Id, string Secret, JsonObject Body)> CreateKeyAsync(HttpClient client, object request, string path = "/v1/keys")
    {
        using var response = await client.PostAsJsonAsync(path, request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"Expected 201, got {(int)response.StatusCode}: {text}");
        var body = JsonNode.Parse(text)!.AsObject();
        return (body["id"]!.GetValue<Guid>(), body.Str("key"), body);
    }

    private static async Task<Guid> CreateSourceAsync(HttpClient client)
    {
        using var response = await client.PostAsJsonAsync("/v1/sources", new { name = "core", adapter = "native", settings = new { } }, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonNode.Parse(text)!["id"]!.GetValue<Guid>();
    }

    private static async Task<JsonObject> ProblemAsync(HttpClient client, string path, object request)
    {
        using var response = await client.PostAsJsonAsync(path, request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"Expected 400, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(text)!.AsObject();
    }

    private static async Task<List<string>> ProblemPointersAsync(HttpClient client, string path, object request) =>
        [.. (await ProblemAsync(client, path, request))["errors"]!.AsArray().Select(e => e.Str("pointer"))];

    private static async Task<JsonArray> ListAsync(HttpClient client, string path) => JsonNode.Parse(await ListRawAsync(client, path))!.AsArray();

    private static async Task<string> ListRawAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {text}");
        return text;
    }

    private static async Task<JsonObject> GetJsonAsync(HttpClient client, string path) => JsonNode.Parse(await ListRawAsync(client, path))!.AsObject();

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, HttpMethod method, string path)
    {
        using var request = new HttpRequestMessage(method, path);
        using var response = await client.SendAsync(request, Ct);
        return response.StatusCode;
    }

    private static async Task<HttpStatusCode> SendJsonAsync(HttpClient client, HttpMethod method, string path, object body)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        using var response = await client.SendAsync(request, Ct);
        return response.StatusCode;
    }
}

public sealed class PostgresKeysHostFixture(PostgresFixture postgres) : IAsyncLifetime
{
    public HeraldHost Host { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var database = await postgres.CreateDatabaseAsync("e2e_keys_" + Guid.NewGuid().ToString("N")[..12]);
        Host = await HeraldHost.StartAsync(HeraldRole.All, ApiKeysTests.Settings(HeraldHost.BaseSettings(database)));
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

public sealed class SqliteKeysHostFixture : IAsyncLifetime
{
    private readonly TempFolder _folder = new();

    public HeraldHost Host { get; private set; } = null!;

    public async ValueTask InitializeAsync() =>
        Host = await HeraldHost.StartAsync(HeraldRole.All, ApiKeysTests.Settings(HeraldHost.SqliteSettings(_folder.Path)));

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        _folder.Dispose();
    }
}

public sealed class PostgresApiKeysTests(PostgresKeysHostFixture fixture) : ApiKeysTests, IClassFixture<PostgresKeysHostFixture>
{
    protected override HeraldHost Host => fixture.Host;
}

public sealed class SqliteApiKeysTests(SqliteKeysHostFixture fixture) : ApiKeysTests, IClassFixture<SqliteKeysHostFixture>
{
    protected override HeraldHost Host => fixture.Host;
}
