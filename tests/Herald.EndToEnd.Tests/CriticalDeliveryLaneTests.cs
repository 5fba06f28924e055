using System.Diagnostics;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static Herald.EndToEnd.Tests.Infrastructure.AdvisoryHold;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Issue #20: the worker's critical lane. A test trigger holds chosen attempts' inserts (the worker's "begin" step) on
/// a lock this test holds, so a loop that claimed them stays busy inside the database for as long as the test wants.
/// </summary>
public sealed class CriticalDeliveryLaneTests(PostgresFixture postgres)
{
    private const long HoldKey = 0x4352_4954_4c41;

    /// <summary>The type whose attempts are never held.</summary>
    private const string FreeType = "otp.code";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ACritical_GoesOut_WhileAnEarlierCriticalBatchIsStillInTheDatabase()
    {
        // One other loop, busy with a held low; the critical loop holds the first critical's batch: only a critical loop
        // that keeps more than one batch in flight (Herald:Worker:CriticalBatchesInFlight) can send the second one.
        await using var host = await StartAsync(new() { ["Herald:Worker:Loops"] = "1" });
        var (_, client) = await host.CreateTenantAsync();
        var dataSource = host.Services.GetRequiredService<NpgsqlDataSource>();
        await using var holder = await HoldAttemptsAsync(dataSource);
        try
        {
            var low = await client.SendAsync(Notification("service.news", "low"));
            await WaitUntilAsync(async () => await WaitingAsync(holder) >= 1, "the low's batch to be held");
            var first = await client.SendAsync(Notification("fraud.alert", "critical"));
            await WaitUntilAsync(async () => await WaitingAsync(holder) >= 2, "the first critical's batch to be held");

            var second = await client.SendAsync(Notification(FreeType, "critical"));

            await client.WaitForStatusAsync(second, "delivered");
            Assert.Equal(2, await WaitingAsync(holder));
            await ReleaseAsync(holder);
            await client.WaitForStatusAsync(first, "delivered");
            await client.WaitForStatusAsync(low, "delivered");
        }
        finally
        {
            await ReleaseAsync(holder);
            await DropHoldAsync(dataSource);
        }
    }

    [Fact]
    public async Task WhileCriticalsFlow_OnlyTheLoopsLeftForLowerLanesClaim_AndTheOthersResumeAfterTheCalm()
    {
        // Two other loops, one of which keeps claiming while criticals flow; every low is its own batch and is held.
        var calm = TimeSpan.FromSeconds(6);
        await using var host = await StartAsync(new()
        {
            ["Herald:Worker:Loops"] = "2",
            ["Herald:Worker:LoopsWhileCritical"] = "1",
            ["Herald:Worker:ClaimBatch"] = "1",
            ["Herald:Worker:CriticalCalm"] = calm.ToString(),
        });
        var (_, client) = await host.CreateTenantAsync();
        var dataSource = host.Services.GetRequiredService<NpgsqlDataSource>();
        await using var holder = await HoldAttemptsAsync(dataSource);
        try
        {
            await client.WaitForStatusAsync(await client.SendAsync(Notification(FreeType, "critical")), "delivered");
            var sinceCritical = Stopwatch.StartNew();
            var lows = new List<Guid>();
            for (var i = 0; i < 3; i++)
            {
                lows.Add(await client.SendAsync(Notification("service.news", "low")));
            }

            await WaitUntilAsync(async () => await WaitingAsync(holder) >= 1, "one loop to claim a low");
            // Well inside the calm period: the second loop still pauses, whatever it was woken by.
            await Task.Delay(TimeSpan.FromSeconds(1), Ct);
            Assert.True(sinceCritical.Elapsed < calm, "the machine was too slow to look inside the calm period");
            Assert.Equal(1, await WaitingAsync(holder));

            await WaitUntilAsync(async () => await WaitingAsync(holder) >= 2, "the second loop to resume after the calm period");
            // The clock started once the critical was seen delivered, a little after it was claimed.
            Assert.True(sinceCritical.Elapsed >= calm - TimeSpan.FromSeconds(1), $"the second loop claimed {sinceCritical.Elapsed} after the critical, inside the calm period");
            await ReleaseAsync(holder);
            foreach (var low in lows)
            {
                await client.WaitForStatusAsync(low, "delivered");
            }
        }
        finally
        {
            await ReleaseAsync(holder);
            await DropHoldAsync(dataSource);
        }
    }

    private async Task<HeraldHost> StartAsync(Dictionary<string, string?> worker)
    {
        var database = await postgres.CreateDatabaseAsync("crit_" + Guid.NewGuid().ToString("N")[..12]);
        var settings = HeraldHost.BaseSettings(database);
        foreach (var (key, value) in worker)
        {
            settings[key] = value;
        }

        return await HeraldHost.StartAsync(HeraldRole.All, settings);
    }

    private static object Notification(string type, string priority) => new
    {
        type, priority, channels = new[] { "telegram" }, customer = new { telegramChatId = TestData.ChatId() },
    };

    /// <summary>Attempts of every type but <see cref="FreeType"/> wait for the lock the returned connection holds.</summary>
    private static async Task<NpgsqlConnection> HoldAttemptsAsync(NpgsqlDataSource dataSource)
    {
        await ExecuteAsync(dataSource, $"""
            CREATE FUNCTION herald_test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF (SELECT type FROM notifications WHERE id = NEW.notification_id) <> '{FreeType}' THEN
                    PERFORM pg_advisory_xact_lock_shared({HoldKey});
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER herald_test_hold BEFORE INSERT ON attempts FOR EACH ROW EXECUTE FUNCTION herald_test_hold();
            """);
        var holder = await dataSource.OpenConnectionAsync(Ct);
        await ExecuteAsync(holder, $"SELECT pg_advisory_lock({HoldKey})");
        return holder;
    }

    private static Task ReleaseAsync(NpgsqlConnection holder) => ExecuteAsync(holder, "SELECT pg_advisory_unlock_all()");

    private static async Task DropHoldAsync(NpgsqlDataSource dataSource)
    {
        await ExecuteAsync(dataSource, "DROP TRIGGER IF EXISTS herald_test_hold ON attempts; DROP FUNCTION IF EXISTS herald_test_hold()");
    }
}
