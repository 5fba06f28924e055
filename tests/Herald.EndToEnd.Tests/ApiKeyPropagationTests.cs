using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Authentication;
using Herald.Server.Hosting;
using Herald.Storage;
using Herald.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>The throwaway Redis for the multi-node key tests.</summary>
public sealed class KeysRedisFixture : RedisServer, IAsyncLifetime;

/// <summary>
/// Two Herald nodes on one PostgreSQL database, each caching API keys for ten minutes: a key revoked through node A is
/// refused by node B as soon as the revocation's announcement arrives, over Redis pub/sub and, with Redis stopped or
/// not configured, over PostgreSQL LISTEN/NOTIFY (issue #17: within 1 s). The wait below is a generous deadline, not
/// the target; the output line records the measured time.
/// </summary>
public sealed class ApiKeyPropagationTests(PostgresFixture postgres, KeysRedisFixture redis, ITestOutputHelper output)
    : IClassFixture<KeysRedisFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task RevokedOnNodeA_IsRefusedByNodeB_WithRedis()
    {
        await redis.StartAsync(TestContext.Current.CancellationToken);
        await PropagateAsync(Redis.Running);
    }

    [Fact]
    public async Task RevokedOnNodeA_IsRefusedByNodeB_WithRedisStopped()
    {
        await redis.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            await PropagateAsync(Redis.Stopped);
        }
        finally
        {
            await redis.StartAsync(TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task RevokedOnNodeA_IsRefusedByNodeB_WithoutRedis() => await PropagateAsync(Redis.Absent);

    private enum Redis
    {
        Running,
        Stopped,
        Absent,
    }

    private async Task PropagateAsync(Redis mode)
    {
        var ct = TestContext.Current.CancellationToken;
        var database = await postgres.CreateDatabaseAsync("keys_" + Guid.NewGuid().ToString("N")[..12]);
        var settings = HeraldHost.BaseSettings(database);
        if (mode != Redis.Absent)
        {
            settings["ConnectionStrings:Redis"] = redis.ConnectionString;
        }

        settings["Herald:ApiKeyCacheDuration"] = "00:10:00";
        await using var a = await HeraldHost.StartAsync(HeraldRole.Api, settings);
        await using var b = await HeraldHost.StartAsync(HeraldRole.Api, settings);
        var feedB = b.Services.GetRequiredService<IChangeFeed>();
        var cacheB = b.Services.GetRequiredService<ApiKeyCache>();
        await feedB.Listening.WaitAsync(Deadline, ct);
        if (mode != Redis.Absent)
        {
            await feedB.RedisSubscribed.WaitAsync(Deadline, ct);
        }

        var (_, adminA) = await a.CreateTenantAsync();
        using var created = await adminA.PostAsJsonAsync("/v1/keys", new { name = "leaked", roles = new[] { "read" } }, ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = (await created.Content.ReadFromJsonAsync<JsonObject>(ct))!;
        var keyId = body["id"]!.GetValue<Guid>();
        using var onB = b.Client(body.Str("key"));

        // Node B verifies the key once and keeps it.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(onB));
        Assert.True(cacheB.Holds(keyId));
        if (mode == Redis.Stopped)
        {
            await redis.StopAsync(ct);
        }

        var clock = Stopwatch.StartNew();
        using (var revoke = await adminA.DeleteAsync($"/v1/keys/{keyId}", ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        }

        await TestData.EventuallyAsync(() => StatusAsync(onB), s => s == HttpStatusCode.Unauthorized, TestData.PropagationDeadline,
            "node B to refuse the revoked key");
        var elapsed = clock.Elapsed;
        output.WriteLine($"Key revoked on node A was refused by node B after {elapsed.TotalMilliseconds:F0} ms via {cacheB.LastForgottenVia} (Redis {mode.ToString().ToLowerInvariant()}).");
        Assert.False(cacheB.Holds(keyId));
        if (mode != Redis.Running)
        {
            Assert.Equal(ChangeFeed.Postgres, cacheB.LastForgottenVia);
        }
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/v1/rules", TestContext.Current.CancellationToken);
        return response.StatusCode;
    }
}
