using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// <c>GET /v1/notifications</c> end to end on both backends: <c>type</c>, <c>customerId</c>, the <c>from</c>/<c>to</c>
/// creation-time range, <c>limit</c> and <c>before</c> paging, tenant isolation and located errors. Three waves of
/// notifications an hour apart on the host's clock (moved, not waited for) make the time range exact.
/// </summary>
public sealed class NotificationSearchTests(PostgresFixture postgres)
{
    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Search_ByTypeCustomerTimeRange_PagesWithBefore_AndSeesOneTenantOnly(string storage)
    {
        using var folder = new TempFolder();
        var settings = storage == "postgres"
            ? HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("search_" + Guid.NewGuid().ToString("N")[..12]))
            : HeraldHost.SqliteSettings(folder.Path);
        var clock = new ShiftedTimeProvider();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings, configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var (_, client) = await host.CreateTenantAsync();
        var (_, other) = await host.CreateTenantAsync("Other Bank");
        foreach (var customer in new[] { "c-a", "c-b" })
        {
            using var put = await client.PutAsJsonAsync($"/v1/customers/{customer}", new { phone = TestData.Phone() });
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        Task<Guid> SendAsync(string type, string customer) =>
            client.SendAsync(new { type, customer = new { id = customer }, data = new { text = "x" } });

        var a1 = await SendAsync("service.news", "c-a");
        var a2 = await SendAsync("account.balance", "c-b");
        clock.Advance(TimeSpan.FromHours(1));
        var t1 = clock.GetUtcNow();
        var b1 = await SendAsync("service.news", "c-a");
        var b2 = await SendAsync("service.news", "c-b");
        var b3 = await SendAsync("account.balance", "c-a");
        clock.Advance(TimeSpan.FromHours(1));
        var t2 = clock.GetUtcNow();
        var c1 = await SendAsync("service.news", "c-a");
        // Each wave was sent within seconds of its start; a minute before the next wave separates them safely.
        var fromB = Iso(t1.AddMinutes(-1));
        var fromC = Iso(t2.AddMinutes(-1));

        AssertWaves(await SearchAsync(client, "type=service.news"), [c1], [b1, b2], [a1]);
        AssertWaves(await SearchAsync(client, "customerId=c-a"), [c1], [b1, b3], [a1]);
        AssertWaves(await SearchAsync(client, "type=service.news&customerId=c-a"), [c1], [b1], [a1]);
        AssertWaves(await SearchAsync(client, "type=account.balance&customerId=c-b"), [a2]);
        AssertWaves(await SearchAsync(client, $"to={fromB}"), [a1, a2]);
        AssertWaves(await SearchAsync(client, $"from={fromB}"), [c1], [b1, b2, b3]);
        AssertWaves(await SearchAsync(client, $"from={fromB}&to={fromC}"), [b1, b2, b3]);
        Assert.Empty(Ids(await SearchAsync(client, "customerId=c-nobody")));

        // Paging newest first: pages of two, each next page before the last id of the one before, until next is null.
        var all = Ids(await SearchAsync(client, "limit=500"));
        Assert.Equal(6, all.Count);
        var paged = new List<Guid>();
        string? before = null;
        var pages = 0;
        do
        {
            var page = await SearchAsync(client, "limit=2" + (before is null ? "" : $"&before={before}"));
            var ids = Ids(page);
            Assert.True(ids.Count <= 2);
            paged.AddRange(ids);
            before = page["next"]?.GetValue<string>();
            Assert.True(before is null || before == ids[^1].ToString(), $"next {before} is not the page's last id");
            pages++;
        }
        while (before is not null && pages < 10);

        Assert.Null(before);
        Assert.Equal(all, paged);
        Assert.Equal([c1], Ids(await SearchAsync(client, $"limit=1")));
        Assert.Equal(all.Skip(1).Take(2), Ids(await SearchAsync(client, $"limit=2&before={c1}")));

        // Another tenant sees none of it, by any filter.
        Assert.Empty(Ids(await SearchAsync(other, "limit=500")));
        Assert.Empty(Ids(await SearchAsync(other, "customerId=c-a")));

        // Bad input: a located 400 per bad parameter.
        using var bad = await client.GetAsync("/v1/notifications?limit=0&from=yesterday&before=x");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var errors = (await bad.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsArray().Select(e => e.Str("pointer")).ToList();
        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, p => p.EndsWith("limit", StringComparison.Ordinal));
        Assert.Contains(errors, p => p.EndsWith("from", StringComparison.Ordinal));
        Assert.Contains(errors, p => p.EndsWith("before", StringComparison.Ordinal));
    }

    private static async Task<JsonObject> SearchAsync(HttpClient client, string query)
    {
        using var response = await client.GetAsync("/v1/notifications?" + query);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{query}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    private static List<Guid> Ids(JsonObject page) => [.. page["items"]!.AsArray().Select(i => i!["id"]!.GetValue<Guid>())];

    /// <summary>The page holds exactly these waves, newest wave first. Within a wave (sent in the same moment of the
    /// host's clock) the order is the store's own, so a wave is compared as a set.</summary>
    private static void AssertWaves(JsonObject page, params Guid[][] waves)
    {
        var ids = Ids(page);
        Assert.Equal(waves.Sum(w => w.Length), ids.Count);
        var at = 0;
        foreach (var wave in waves)
        {
            Assert.Equal(wave.Order(), ids.Skip(at).Take(wave.Length).Order());
            at += wave.Length;
        }
    }

    private static string Iso(DateTimeOffset t) => Uri.EscapeDataString(t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
}
