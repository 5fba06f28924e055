using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// The workers' periodic housekeeping, shown end to end on a real host over PostgreSQL (the stores' own tests cover
/// each statement): lane aging, the end of the idempotency window, the retry of a receipt parked before its attempt
/// was stored, and the throttle and digest cleanups. Long periods pass on the host's clock, which the tests move;
/// the workers' timers run at real speed, so each effect is waited for as a condition with a generous deadline.
/// </summary>
public sealed class WorkerMaintenanceTests(PostgresFixture postgres, ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(HeraldHost Host, HttpClient Client, ShiftedTimeProvider Clock)> StartAsync(string name, Action<Dictionary<string, string?>>? tune = null)
    {
        var settings = HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync(name + "_" + Guid.NewGuid().ToString("N")[..12]));
        tune?.Invoke(settings);
        var clock = new ShiftedTimeProvider();
        var host = await HeraldHost.StartAsync(HeraldRole.All, settings, configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var (_, client) = await host.CreateTenantAsync();
        return (host, client, clock);
    }

    [Fact]
    public async Task WaitingLowLane_AgesOneLaneAtATime_UpToHighNeverCritical()
    {
        var (host, client, clock) = await StartAsync("aging");
        await using var _ = host;
        // Held by quiet hours (the customer's window runs two more hours), the message waits in the queue.
        var now = clock.GetUtcNow();
        using (var put = await client.PutAsJsonAsync("/v1/customers/sleeper", new
        {
            phone = TestData.Phone(), timeZone = "UTC",
            quietHours = new { start = now.AddHours(-1).ToString("HH:mm", CultureInfo.InvariantCulture), end = now.AddHours(2).ToString("HH:mm", CultureInfo.InvariantCulture) },
        }, Ct))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var id = await client.SendAsync(new { type = "service.news", priority = "low", customer = new { id = "sleeper" }, data = new { text = "Our new app" } });
        await TestData.EventuallyAsync(() => client.GetNotificationAsync(id), n => n.Str("status") == "routed", Deadline, "the news to be held");
        Assert.Equal((short)Priority.Low, await LaneAsync(host, id));

        // Herald:Worker:AgingAfter (5 min) on the host's clock: one lane up per period of waiting.
        clock.Advance(TimeSpan.FromMinutes(6));
        await TestData.EventuallyAsync(() => LaneAsync(host, id), lane => lane == (short)Priority.Normal, Deadline, "the low lane to age into normal");
        clock.Advance(TimeSpan.FromMinutes(6));
        await TestData.EventuallyAsync(() => LaneAsync(host, id), lane => lane == (short)Priority.High, Deadline, "the normal lane to age into high");

        // Never into critical: another period later (and a worker loop later, shown by a message sent after it) it is high.
        clock.Advance(TimeSpan.FromMinutes(6));
        var probe = await client.SendAsync(new { type = "otp", customer = new { phone = TestData.Phone() }, data = new { text = "123456" } });
        await client.WaitForStatusAsync(probe, "delivered");
        await WaitForMaintenanceAsync(host);
        Assert.Equal((short)Priority.High, await LaneAsync(host, id));
        Assert.Equal("routed", (await client.GetNotificationAsync(id)).Str("status"));
    }

    [Fact]
    public async Task IdempotencyKey_RepeatsWithinTheWindow_AndIsNewAgainAfterIt()
    {
        var (host, client, clock) = await StartAsync("idempotency");
        await using var _ = host;
        var body = new { type = "account.balance", customer = new { phone = TestData.Phone() }, data = new { text = "Balance" } };

        var (first, firstStatus) = await PostAsync(client, body, "key-1");
        Assert.Equal(HttpStatusCode.Accepted, firstStatus);
        Assert.Equal((first, HttpStatusCode.OK), await PostAsync(client, body, "key-1"));

        // Six days later: still the same notification.
        clock.Advance(TimeSpan.FromDays(6));
        await WaitForMaintenanceAsync(host);
        Assert.Equal((first, HttpStatusCode.OK), await PostAsync(client, body, "key-1"));

        // Past the 7-day window the workers release the key: the same key is a new notification.
        clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));
        var (second, status) = await TestData.EventuallyAsync(
            () => PostAsync(client, body, "key-1"), r => r.Status == HttpStatusCode.Accepted, Deadline, "the key to be released after the window");
        Assert.NotEqual(first, second);
        Assert.Equal((second, HttpStatusCode.OK), await PostAsync(client, body, "key-1"));
        output.WriteLine($"key-1: {first} then, after the window, {second} ({status})");
    }

    [Fact]
    public async Task ReceiptParkedBeforeItsAttempt_IsAppliedByTheWorkers()
    {
        var (host, client, _) = await StartAsync("parked", s => s["Herald:Routing:WhatsAppReceiptTimeout"] = "00:10:00");
        await using var _ = host;
        // The sandbox never sends a delivered receipt for a phone ending 0002: the attempt stays "sent".
        var id = await client.SendAsync(new { type = "card.transaction", channels = new[] { "whatsapp" }, customer = new { phone = TestData.Phone("0002") }, data = new { text = "Paid" } });
        var sent = await TestData.EventuallyAsync(
            () => client.GetNotificationAsync(id), n => n.Attempts().Count == 1 && n.Attempts()[0].Str("state") == "sent", Deadline, "the WhatsApp attempt to be sent");
        var wamid = sent.Attempts()[0].Str("providerMessageId");

        // What the callback does with a receipt that finds no attempt yet (it raced the attempt's commit): park it,
        // under the account that vouched for it (the one that sent).
        await using var account = host.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(
            $"SELECT provider_id FROM attempts WHERE provider_message_id = '{wamid}'");
        var providerId = (Guid)(await account.ExecuteScalarAsync(Ct))!;
        await host.Services.GetRequiredService<IDeliveryStore>().SavePendingReceiptAsync(
            new PendingReceipt(providerId, wamid, ReceiptState.Delivered, null, null, TimeProvider.System.GetUtcNow()), Ct);

        var delivered = await client.WaitForStatusAsync(id, "delivered", Deadline);
        Assert.Equal("delivered", delivered.Attempts()[0].Str("state"));
    }

    [Fact]
    public async Task ThrottleSendsAndSentDigests_AreDeletedByTheWorkersWhenNoWindowNeedsThem()
    {
        var (host, client, clock) = await StartAsync("housekeeping", s =>
        {
            s["Herald:Throttling:CleanupInterval"] = "00:00:01";
            s["Herald:Digests:CleanupInterval"] = "00:00:01";
        });
        await using var _ = host;
        using (var put = await client.PutAsJsonAsync("/v1/rules", System.Text.Json.Nodes.JsonNode.Parse("""
            {"rules": [
              {"name": "balance-throttle", "when": "type == 'balance.update'", "then": {"channels": ["whatsapp"], "throttle": {"max": 2, "per": "1h"}}},
              {"name": "summary-digest", "when": "type == 'card.summary'", "then": {"priority": "low", "channels": ["whatsapp"], "digest": {"window": "8s"}}}
            ]}
            """), Ct))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync(Ct));
        }

        var phone = TestData.Phone();
        var throttled = await client.SendAsync(new { type = "balance.update", customer = new { id = "c-1", phone }, data = new { text = "Balance" } });
        var digested = new List<Guid>();
        for (var i = 0; i < 2; i++)
        {
            digested.Add(await client.SendAsync(new { type = "card.summary", customer = new { id = "c-1", phone }, data = new { text = $"Summary {i}" } }));
        }

        await client.WaitForStatusAsync(throttled, "delivered", Deadline);
        // The digest window closes on the host's clock.
        clock.Advance(TimeSpan.FromSeconds(10));
        foreach (var d in digested)
        {
            await TestData.EventuallyAsync(() => client.GetNotificationAsync(d), n => n.Str("status") is "delivered" or "suppressed", Deadline, "the digest to be sent");
        }

        Assert.True(await CountAsync(host, "throttle_sends") > 0);
        Assert.True(await CountAsync(host, "digest_members") > 0);
        Assert.True(await CountAsync(host, "digest_windows") > 0);

        // A day and more later (the longest throttle period; the digest retention): nothing needs the rows any more.
        clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(10));
        foreach (var table in new[] { "throttle_sends", "throttle_groups", "digest_members", "digest_windows" })
        {
            await TestData.EventuallyAsync(() => CountAsync(host, table), n => n == 0, Deadline, $"the workers to empty {table}");
        }
    }

    private static async Task<(Guid Id, HttpStatusCode Status)> PostAsync(HttpClient client, object body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/notifications") { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await client.SendAsync(request, Ct);
        var json = await response.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>(Ct);
        return (json!["id"]!.GetValue<Guid>(), response.StatusCode);
    }

    /// <summary>Waits until the workers' maintenance has made at least one full pass since the call (a condition, not
    /// a sleep): a parked "sent" receipt for no attempt is taken and dropped by a pass, and two markers taken one
    /// after the other prove a whole pass began after the clock moved.</summary>
    private static async Task WaitForMaintenanceAsync(HeraldHost host)
    {
        var store = host.Services.GetRequiredService<IDeliveryStore>();
        for (var i = 0; i < 2; i++)
        {
            var marker = "maintenance-marker-" + Guid.NewGuid().ToString("N");
            await store.SavePendingReceiptAsync(new PendingReceipt(Guid.NewGuid(), marker, ReceiptState.Sent, null, null, host.Services.GetRequiredService<TimeProvider>().GetUtcNow() - TimeSpan.FromSeconds(5)), Ct);
            await TestData.EventuallyAsync(
                () => ScalarAsync(host, $"SELECT count(*) FROM pending_receipts WHERE provider_message_id = '{marker}'"), n => n == 0, Deadline, "a maintenance pass");
        }
    }

    private static Task<long> CountAsync(HeraldHost host, string table) => ScalarAsync(host, $"SELECT count(*) FROM {table}");

    private static async Task<short> LaneAsync(HeraldHost host, Guid id) =>
        (short)await ScalarAsync(host, $"SELECT lane FROM queue WHERE notification_id = '{id}'");

    private static async Task<long> ScalarAsync(HeraldHost host, string sql)
    {
        await using var command = host.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(Ct), CultureInfo.InvariantCulture);
    }
}
