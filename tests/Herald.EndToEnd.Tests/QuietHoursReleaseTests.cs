using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// The clock of a test host: real time plus an offset the test moves forward. Timers and delays run at real speed (so
/// the worker, leases and receipts behave as usual), while everything that reads the time (quiet hours, due times,
/// the queue) sees the moved clock. Herald reads time only through <see cref="TimeProvider"/> (the system clock is a
/// banned API), and the stores take it as a parameter, so the whole host agrees on the moved time.
/// </summary>
public sealed class ShiftedTimeProvider : TimeProvider
{
    private long _offsetTicks;

    public TimeSpan Offset => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);
}

/// <summary>
/// Quiet hours end to end on PostgreSQL with the real host: a normal message to a customer inside the window is held
/// (routed, no attempt, nothing sent) and delivered when the window ends; a critical one goes at once. The window's
/// end is reached by moving the host's clock, not by waiting for it.
/// </summary>
public sealed class QuietHoursReleaseTests(PostgresFixture postgres)
{
    [Fact]
    public async Task HeldNormalMessage_IsDeliveredWhenTheWindowEnds_CriticalGoesAtOnce()
    {
        var clock = new ShiftedTimeProvider();
        var database = await postgres.CreateDatabaseAsync("quiet_" + Guid.NewGuid().ToString("N")[..12]);
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.BaseSettings(database),
            configure: builder => builder.Services.AddSingleton<TimeProvider>(clock));
        var (_, client) = await host.CreateTenantAsync();
        var phone = TestData.Phone();
        var now = clock.GetUtcNow();
        // On the customer's clock: from an hour ago until two hours from now (minute resolution; may cross midnight).
        var start = now.AddHours(-1);
        var end = now.AddHours(2);
        using (var put = await client.PutAsJsonAsync("/v1/customers/sleeper", new
        {
            phone,
            timeZone = "America/Sao_Paulo",
            quietHours = new { start = Local(start), end = Local(end) },
        }))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var news = await client.SendAsync(new { type = "service.news", customer = new { id = "sleeper" }, data = new { text = "Our new app" } });
        var alert = await client.SendAsync(new { type = "fraud.alert", customer = new { id = "sleeper" }, data = new { text = "Was this you?" } });

        // The critical alert overrides quiet hours; the news is looked at by a worker and held: routed, no attempt.
        Assert.Equal("delivered", (await client.WaitForStatusAsync(alert, "delivered")).Str("status"));
        var held = await TestData.EventuallyAsync(() => client.GetNotificationAsync(news), n => n.Str("status") == "routed", TimeSpan.FromSeconds(30), "the news to be held");
        Assert.Empty(held.Attempts());
        var before = Assert.Single(await client.SandboxMessagesAsync(to: phone));
        Assert.Equal("Was this you?", before.Str("text"));

        // Half-way through the window it is still held: a second alert sent after the move is delivered, so the worker
        // has run since, and the news has not moved (it is due at the window's end, not at the next look).
        clock.Advance(TimeSpan.FromHours(1));
        var second = await client.SendAsync(new { type = "otp", customer = new { id = "sleeper" }, data = new { text = "123456" } });
        await client.WaitForStatusAsync(second, "delivered");
        var stillHeld = await client.GetNotificationAsync(news);
        Assert.Equal("routed", stillHeld.Str("status"));
        Assert.Empty(stillHeld.Attempts());

        // The window ends (its end is at minute resolution, so a minute past it is surely outside): it goes out.
        clock.Advance(end - clock.GetUtcNow() + TimeSpan.FromMinutes(1));
        var delivered = await client.WaitForStatusAsync(news, "delivered", TimeSpan.FromSeconds(30));
        Assert.Equal("whatsapp", delivered.Str("channel"));
        var received = await client.SandboxMessagesAsync("whatsapp", phone);
        Assert.Equal(["123456", "Our new app", "Was this you?"], received.Select(m => m.Str("text")).Order(StringComparer.Ordinal));
    }

    private static string Local(DateTimeOffset utc) =>
        TimeZoneInfo.ConvertTime(utc, TimeZoneInfo.FindSystemTimeZoneById("America/Sao_Paulo")).ToString("HH:mm", CultureInfo.InvariantCulture);
}
