using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Herald.Testing;

namespace Herald.EndToEnd.Tests;

/// <summary>The throwaway Redis the quota cluster test shares between two API nodes.</summary>
public sealed class QuotaRedis : RedisServer, IAsyncLifetime;

/// <summary>
/// Issue #13 item 7: per-tenant ingest quotas set by the operator (PATCH /v1/admin/tenants/{id}) answer 429
/// problem+json with Retry-After once exceeded, on POST /v1/notifications, /batch (whole request) and
/// /v1/sources/{id}/messages, without touching other tenants; cluster-wide through Redis. Rates here are so low
/// (one per 100 s) that no test depends on how fast the machine is.
/// </summary>
public sealed class QuotaTests(PostgresFixture postgres, QuotaRedis redis) : IClassFixture<QuotaRedis>
{
    private static readonly object Notification = new { type = "account.balance", channels = new[] { "telegram" }, customer = new { telegramChatId = "123456" } };

    [Fact]
    public async Task RequestsPerSecond_Exceeded_429ProblemWithRetryAfter_OtherTenantUnaffected()
    {
        await using var api = await ApiAsync();
        var (tenant, client) = await api.CreateTenantAsync("Limited");
        var (_, other) = await api.CreateTenantAsync("Other");
        await PatchAsync(api, tenant, new { quotas = new { requestsPerSecond = 0.01 } });

        using var first = await client.PostAsJsonAsync("/v1/notifications", Notification);
        using var second = await client.PostAsJsonAsync("/v1/notifications", Notification);
        using var otherTenants = await other.PostAsJsonAsync("/v1/notifications", Notification);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        await AssertQuotaProblemAsync(second, "requests");
        Assert.Equal(HttpStatusCode.Accepted, otherTenants.StatusCode);
    }

    [Fact]
    public async Task NotificationsPerSecond_BatchOverQuota_IsRefusedWhole_AndNothingIsStored()
    {
        await using var api = await ApiAsync();
        var (tenant, client) = await api.CreateTenantAsync("Limited");
        await PatchAsync(api, tenant, new { quotas = new { notificationsPerSecond = 0.01 } });

        // Within the rate: a batch larger than the burst is taken, and its debt refuses what follows.
        using var first = await client.PostAsJsonAsync("/v1/notifications/batch", new { items = new[] { Notification, Notification, Notification } });
        using var second = await client.PostAsJsonAsync("/v1/notifications/batch", new { items = new[] { Notification, Notification } });
        using var single = await client.PostAsJsonAsync("/v1/notifications", Notification);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        await AssertQuotaProblemAsync(second, "notifications");
        await AssertQuotaProblemAsync(single, "notifications");
        var stored = JsonNode.Parse(await client.GetStringAsync("/v1/notifications?limit=50"))!["items"]!.AsArray();
        Assert.Equal(3, stored.Count);
    }

    [Fact]
    public async Task BacklogCeiling_Reached_429_UntilTheQueueDrains()
    {
        // An API node alone: nothing is delivered, so the backlog stays.
        await using var api = await ApiAsync();
        var (tenant, client) = await api.CreateTenantAsync("Limited");
        await PatchAsync(api, tenant, new { quotas = new { backlog = 3 } });

        using var batch = await client.PostAsJsonAsync("/v1/notifications/batch", new { items = new[] { Notification, Notification } });
        using var tooBig = await client.PostAsJsonAsync("/v1/notifications/batch", new { items = new[] { Notification, Notification } });
        using var fits = await client.PostAsJsonAsync("/v1/notifications", Notification);
        using var full = await client.PostAsJsonAsync("/v1/notifications", Notification);

        Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        await AssertQuotaProblemAsync(tooBig, "backlog");
        Assert.Equal(HttpStatusCode.Accepted, fits.StatusCode);
        await AssertQuotaProblemAsync(full, "backlog");
    }

    [Fact]
    public async Task SourceMessages_CountAgainstTheSameQuota()
    {
        await using var api = await ApiAsync();
        var (tenant, client) = await api.CreateTenantAsync("Limited");
        using var created = await client.PostAsJsonAsync("/v1/sources", new { name = "core", adapter = "native", settings = new { }, requireSignature = false });
        created.EnsureSuccessStatusCode();
        var sourceId = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
        await PatchAsync(api, tenant, new { quotas = new { requestsPerSecond = 0.01 } });

        using var first = await client.PostAsJsonAsync($"/v1/sources/{sourceId}/messages", Notification);
        using var second = await client.PostAsJsonAsync($"/v1/sources/{sourceId}/messages", Notification);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        await AssertQuotaProblemAsync(second, "requests");
    }

    [Fact]
    public async Task RequestsPerSecond_IsClusterWide_ThroughRedis()
    {
        var database = await postgres.CreateDatabaseAsync("quota_" + Guid.NewGuid().ToString("N")[..12]);
        var settings = HeraldHost.BaseSettings(database);
        settings["ConnectionStrings:Redis"] = redis.ConnectionString;
        await using var one = await HeraldHost.StartAsync(HeraldRole.Api, settings);
        await using var two = await HeraldHost.StartAsync(HeraldRole.Api, settings);
        var (tenant, client) = await one.CreateTenantAsync("Limited");
        await PatchAsync(one, tenant, new { quotas = new { requestsPerSecond = 0.01 } });
        using var onTwo = two.Client(client.DefaultRequestHeaders.Authorization!.Parameter);

        using var first = await client.PostAsJsonAsync("/v1/notifications", Notification);
        // Node two reads the limits itself (nothing cached there yet) and shares node one's schedule in Redis.
        using var second = await onTwo.PostAsJsonAsync("/v1/notifications", Notification);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        await AssertQuotaProblemAsync(second, "requests");
    }

    [Fact]
    public async Task AdminPatch_ValidatesEveryMember_LocatedErrors_ChangesNothing()
    {
        await using var api = await ApiAsync();
        var (tenant, client) = await api.CreateTenantAsync("Bank");

        using var bad = await api.Admin.PatchAsJsonAsync($"/v1/admin/tenants/{tenant}", new
        {
            weight = 0,
            quotas = new { requestsPerSecond = -1, notificationsPerSecond = "many", backlog = 1.5, perHour = 3 },
            name = "renamed",
        });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        var pointers = (await bad.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsArray().Select(e => e!.Str("pointer")).ToHashSet();
        Assert.Equal(
            new HashSet<string> { "/weight", "/quotas/requestsPerSecond", "/quotas/notificationsPerSecond", "/quotas/backlog", "/quotas/perHour", "/name" },
            pointers);
        var unchanged = await api.Admin.GetFromJsonAsync<JsonObject>($"/v1/admin/tenants/{tenant}");
        Assert.Equal(100, unchanged!["weight"]!.GetValue<int>());

        using var tenantKey = await client.PatchAsJsonAsync($"/v1/admin/tenants/{tenant}", new { weight = 500 });
        Assert.Equal(HttpStatusCode.Forbidden, tenantKey.StatusCode);
        using var unknown = await api.Admin.PatchAsJsonAsync($"/v1/admin/tenants/{Guid.NewGuid()}", new { weight = 500 });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        using var good = await api.Admin.PatchAsJsonAsync($"/v1/admin/tenants/{tenant}", new { weight = 500, quotas = new { backlog = 1000, requestsPerSecond = 50 } });
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        using var partial = await api.Admin.PatchAsJsonAsync($"/v1/admin/tenants/{tenant}", new { quotas = new { requestsPerSecond = (double?)null } });
        var view = (await partial.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(500, view["weight"]!.GetValue<int>());
        Assert.Equal(1000, view["quotas"]!["backlog"]!.GetValue<long>());
        Assert.Null(view["quotas"]!["requestsPerSecond"]);
    }

    private async Task<HeraldHost> ApiAsync()
    {
        var database = await postgres.CreateDatabaseAsync("quota_" + Guid.NewGuid().ToString("N")[..12]);
        return await HeraldHost.StartAsync(HeraldRole.Api, HeraldHost.BaseSettings(database));
    }

    private static async Task PatchAsync(HeraldHost api, Guid tenant, object patch)
    {
        using var response = await api.Admin.PatchAsJsonAsync($"/v1/admin/tenants/{tenant}", patch);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static async Task AssertQuotaProblemAsync(HttpResponseMessage response, string quota)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.RetryAfter?.Delta is { } delay && delay >= TimeSpan.FromSeconds(1), "Retry-After in whole seconds");
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("https://herald.dev/problems/quota-exceeded", problem.Str("type"));
        Assert.Equal(429, problem["status"]!.GetValue<int>());
        Assert.Contains(quota, problem.Str("detail"), StringComparison.Ordinal);
    }
}
