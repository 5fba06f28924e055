using System.Net;
using System.Text;
using Herald.Core.Notifications;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using static Herald.EndToEnd.Tests.Infrastructure.AdvisoryHold;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Issue #20: a critical single POST has an accept path of its own. Every group committer of the other single POSTs is
/// held inside its commit (a test trigger makes their inserts wait on a lock this test holds), and a critical POST is
/// still committed and answered; the held ones complete once the lock is released.
/// </summary>
public sealed class CriticalAcceptLaneTests(PipelineHostFixture fixture) : IClassFixture<PipelineHostFixture>
{
    private const long HoldKey = 0x4e52_4c41_4e45;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CriticalPost_WhileEveryOtherGroupCommitIsHeld_IsAccepted()
    {
        var host = fixture.Host;
        var (_, client) = await host.CreateTenantAsync("Critical Lane Bank");
        var committers = host.Services.GetRequiredService<IOptions<IngestOptions>>().Value.Committers;
        var dataSource = host.Services.GetRequiredService<NpgsqlDataSource>();
        await ExecuteAsync(dataSource, $"""
            CREATE FUNCTION herald_test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_advisory_xact_lock_shared({HoldKey}); RETURN NEW; END $$;
            CREATE TRIGGER herald_test_hold BEFORE INSERT ON notifications FOR EACH ROW
                WHEN (NEW.priority <> {(short)Priority.Critical}) EXECUTE FUNCTION herald_test_hold();
            """);
        await using var holder = await dataSource.OpenConnectionAsync(Ct);
        var held = new List<Task<HttpResponseMessage>>();
        try
        {
            await ExecuteAsync(holder, $"SELECT pg_advisory_lock({HoldKey})");
            // One normal POST at a time until every committer waits inside its commit.
            for (var i = 0; i < committers; i++)
            {
                held.Add(client.PostAsync("/v1/notifications", Json("normal", "service.news", i), Ct));
                await WaitUntilAsync(async () => await WaitingAsync(holder) >= i + 1, $"committer {i + 1} of {committers} to be held");
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            using var critical = await client.PostAsync("/v1/notifications", Json("critical", "fraud.alert", 99), timeout.Token);

            Assert.Equal(HttpStatusCode.Accepted, critical.StatusCode);
            Assert.All(held, h => Assert.False(h.IsCompleted, "a held POST was answered before the lock was released"));
        }
        finally
        {
            await ExecuteAsync(holder, $"SELECT pg_advisory_unlock({HoldKey})");
            foreach (var response in await Task.WhenAll(held))
            {
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                response.Dispose();
            }

            await ExecuteAsync(dataSource, "DROP TRIGGER herald_test_hold ON notifications; DROP FUNCTION herald_test_hold()");
        }
    }

    private static StringContent Json(string priority, string type, int i) => new(
        $$$"""{"type":"{{{type}}}","priority":"{{{priority}}}","customer":{"phone":"{{{TestData.Phone()}}}"},"data":{"text":"lane {{{i}}}"}}""",
        Encoding.UTF8,
        "application/json");
}
