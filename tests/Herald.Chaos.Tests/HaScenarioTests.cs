using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Herald.Chaos.Tests.Infrastructure;
using Herald.Core.Notifications;

namespace Herald.Chaos.Tests;

/// <summary>
/// Issue #7: the production topology under failure. Each scenario starts from a whole cluster, breaks one part
/// under load, and reports accepted / delivered / duplicated / lost from the clients' answers, the database and what
/// the providers received.
/// </summary>
[TestCaseOrderer(typeof(ShuffledScenarioOrderer))]
public sealed class HaScenarioTests(Cluster cluster, ITestOutputHelper output) : IClassFixture<Cluster>
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task ApiNodeKilledUnderLoad_ClientsRetryWithTheirKeys_NothingLostNothingDuplicated()
    {
        await cluster.EnsureHealthyAsync();
        var load = Load.Start(cluster.Client, "api-kill", 300, concurrency: 12, pace: TimeSpan.FromMilliseconds(5));
        await Until(() => load.Accepted >= 60, "60 notifications accepted before the kill");
        Assert.False(load.Completion.IsCompleted, "The load ended before the kill; the scenario would prove nothing.");
        await cluster.Api1.KillAsync();
        var atKill = load.Accepted;
        await load.Completion;

        var row = await ReportAsync("kill -9 api node under load", load,
            $"killed at {atKill} accepted; {load.RetriedAnswers} 5xx + {load.TransportErrors} connection errors retried");
        AssertClean(row, load);
        Assert.Equal(0, row.Duplicated);
    }

    [Fact]
    public async Task WorkerKilledMidDispatch_AnotherWorkerTakesOver_DuplicatesOnlyForInFlightSends()
    {
        await cluster.EnsureHealthyAsync();
        // Slow providers, so that delivery trails ingest and at the kill some sends are in flight.
        await ShapeAsync(cluster.ProviderA, new { latencyMs = 800 });
        await ShapeAsync(cluster.ProviderB, new { latencyMs = 800 });
        var load = Load.Start(cluster.Client, "worker-kill", 300, concurrency: 12);
        await Until(async () => (await cluster.StatusesAsync(load.Prefix)).Values.Count(s => s == NotificationStatus.Delivered) >= 40,
            "40 deliveries before the kill");
        await cluster.Worker1.KillAsync();
        var deliveredAtKill = (await cluster.StatusesAsync(load.Prefix)).Values.Count(s => s == NotificationStatus.Delivered);

        await load.Completion;
        var row = await ReportAsync("kill -9 worker mid-dispatch", load, "");
        var inFlight = await cluster.AttemptsAsync(load.Prefix, "worker_lost");
        row = row with { Notes = $"delivered at kill {deliveredAtKill}; {inFlight} in-flight sends taken over (duplicates <= that); {row.Notes}" };
        Replace(row);
        AssertClean(row, load);
        Assert.InRange(deliveredAtKill, 40, load.Count - 1);
        Assert.InRange(row.Duplicated, 0, inFlight);
    }

    [Fact]
    public async Task PostgresRestart_ApiAnswers503WhileDown_Never202WithoutACommit_RecoversByItself()
    {
        await cluster.EnsureHealthyAsync();
        var load = Load.Start(cluster.Client, "pg-restart", 300, concurrency: 8, pace: TimeSpan.FromMilliseconds(10));
        await Until(() => load.Accepted >= 60, "60 notifications accepted before PostgreSQL stops");
        await cluster.Postgres.StopKeepingDataAsync();

        // While it is down: readiness says 503 on every api node, and a POST through the edge is answered 503.
        foreach (var api in cluster.ApiNodes)
        {
            await Until(async () => await StatusAsync(new Uri(cluster.Direct[api], "/readyz")) == 503, $"{api.Name} /readyz to say 503");
        }

        var downAnswers = new List<int>();
        await Until(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/notifications")
            {
                Content = JsonContent.Create(new { type = "card.transaction", channels = new[] { "telegram" }, customer = new { telegramChatId = "9000001" }, data = new { text = "pg-down-probe" } }),
            };
            request.Headers.Add("Idempotency-Key", "pg-down-probe-" + downAnswers.Count);
            using var response = await cluster.Client.SendAsync(request);
            downAnswers.Add((int)response.StatusCode);
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
            {
                return false;
            }

            // Whether Herald or HAProxy (no replica ready) answered it, a client gets the API's error shape.
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            return true;
        }, "a POST through nginx to be answered 503 while PostgreSQL is down");

        Assert.DoesNotContain(202, downAnswers);
        var acceptedWhileDown = load.Accepted;
        await cluster.Postgres.StartAsync();
        await load.Completion;

        var row = await ReportAsync("PostgreSQL restart", load,
            $"{load.Answers(503)} x 503 while down ({load.Answers(500)} x 500); every 202 found committed");
        AssertClean(row, load);
        await AssertDuplicatesExplainedAsync(row, load);
        Assert.Equal(0, load.Answers(500));
        Assert.True(load.Accepted > acceptedWhileDown, "Nothing was accepted after PostgreSQL came back.");
    }

    [Fact]
    public async Task RedisDown_DeliveryContinues()
    {
        await cluster.EnsureHealthyAsync();
        await cluster.Redis.StopAsync();
        try
        {
            var load = Load.Start(cluster.Client, "redis-down", 150, concurrency: 8);
            await load.Completion;
            var row = await ReportAsync("Redis down", load, "Redis killed for the whole scenario");
            AssertClean(row, load);
            await AssertDuplicatesExplainedAsync(row, load);
        }
        finally
        {
            await cluster.Redis.StartAsync();
        }
    }

    [Fact]
    public async Task ProviderOutage_CircuitOpens_TrafficMoves_AndReturnsAfterRecovery()
    {
        await cluster.EnsureHealthyAsync();
        var opened = $"Circuit of provider account {cluster.AccountB.Id} opened";
        var closed = $"Circuit of provider account {cluster.AccountB.Id} closed";
        var openedBefore = cluster.Workers.Sum(w => w.CountLogged(opened));
        await cluster.ProviderB.KillAsync();

        var outage = Load.Start(cluster.Client, "provider-down", 200, concurrency: 6, pace: TimeSpan.FromMilliseconds(20));
        try
        {
            await Until(() => cluster.Workers.Sum(w => w.CountLogged(opened)) > openedBefore, "provider B's circuit to open in a worker");
        }
        catch (TimeoutException e)
        {
            // What every worker's breaker says (a circuit stuck half-open would show here), for the next investigation.
            var view = await cluster.Client.GetStringAsync($"/v1/providers/{cluster.AccountB.Id}");
            var failovers = cluster.Workers.Sum(w => w.CountLogged($"Provider account {cluster.AccountB.Id} refused a send transiently"));
            throw new TimeoutException(
                $"{e.Message}\nGET /v1/providers/{{B}}: {view}\nattempts: {await cluster.AttemptBreakdownAsync(outage.Prefix)}\n"
                + $"failovers from B logged: {failovers}\n{cluster.Tails()}", e);
        }
        await outage.Completion;
        var outageRow = await ReportAsync("provider outage (B killed)", outage, "");

        cluster.ProviderB.Start();
        await Until(() => cluster.IsOkAsync(new Uri(cluster.Direct[cluster.ProviderB], "/sandbox/settings")), "provider B to come back");
        var closedBefore = cluster.Workers.Sum(w => w.CountLogged(closed));
        var recovery = Load.Start(cluster.Client, "provider-back", 200, concurrency: 4, pace: TimeSpan.FromMilliseconds(20));
        await Until(async () => (await cluster.ReceivedAsync(cluster.ProviderB, recovery.Prefix)).Count > 0, "provider B to receive traffic again");
        await recovery.Completion;
        var recoveryRow = await ReportAsync("provider recovered (B back)", recovery, "");
        var tookOver = (await cluster.ReceivedAsync(cluster.ProviderA, outage.Prefix)).Count;
        var returned = (await cluster.ReceivedAsync(cluster.ProviderB, recovery.Prefix)).Count;
        outageRow = outageRow with { Notes = $"B's circuit opened; A delivered {tookOver} of {outage.Count}; {outageRow.Notes}" };
        recoveryRow = recoveryRow with { Notes = $"B took {returned} of {recovery.Count} again; circuit closed in {cluster.Workers.Sum(w => w.CountLogged(closed)) - closedBefore} worker(s); {recoveryRow.Notes}" };
        Replace(outageRow);
        Replace(recoveryRow);

        AssertClean(outageRow, outage);
        AssertClean(recoveryRow, recovery);
        await AssertDuplicatesExplainedAsync(outageRow, outage);
        await AssertDuplicatesExplainedAsync(recoveryRow, recovery);
        Assert.Equal(outage.Count, tookOver);
        Assert.InRange(returned, 1, recovery.Count);
    }

    [Fact]
    public async Task SlowProvider_TimeoutsMoveTrafficWithoutExhaustingThreadsOrConnections()
    {
        await cluster.EnsureHealthyAsync();
        var opened = $"Circuit of provider account {cluster.AccountB.Id} opened";
        var openedBefore = cluster.Workers.Sum(w => w.CountLogged(opened));
        // Far above Herald's send timeout in this cluster (3 s).
        await ShapeAsync(cluster.ProviderB, new { latencyMs = 5_000 });
        var baseline = cluster.Workers.Select(w => w.Resources()).ToList();

        var load = Load.Start(cluster.Client, "slow-provider", 200, concurrency: 8, pace: TimeSpan.FromMilliseconds(10));
        var peakThreads = 0;
        var peakFds = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                foreach (var worker in cluster.Workers)
                {
                    var (threads, fds) = worker.Resources();
                    peakThreads = Math.Max(peakThreads, threads);
                    peakFds = Math.Max(peakFds, fds);
                }

                await Task.Delay(100, CancellationToken.None);
            }
        });
        await load.Completion;
        await Until(() => cluster.Workers.Sum(w => w.CountLogged(opened)) > openedBefore, "the slow provider's circuit to open");
        var row = await ReportAsync("slow provider (B 5 s, timeout 3 s)", load, "");
        await sampling.CancelAsync();
        await sampler;
        var viaA = (await cluster.ReceivedAsync(cluster.ProviderA, load.Prefix)).Count;
        var timedOut = await cluster.AttemptsAsync(load.Prefix, "timeout");
        row = row with
        {
            Notes = $"B's circuit opened; A took {viaA}; {row.Notes}; "
                + $"worker peak threads {peakThreads} (before {baseline.Max(b => b.Threads)}), fds {peakFds} (before {baseline.Max(b => b.FileDescriptors)})",
        };
        Replace(row);

        AssertClean(row, load);
        // A timed-out send has an unknown outcome: the slow provider may still deliver it after Herald moved on, so
        // duplicates are possible, but only for sends that timed out (at-least-once, SPEC §2).
        Assert.InRange(row.Duplicated, 0, timedOut);
        await AssertDuplicatesExplainedAsync(row, load);
        // Timeouts must not pile up threads or sockets: a starved pool or leaked connections would grow these.
        Assert.InRange(peakThreads, 1, 150);
        Assert.InRange(peakFds, 1, 1_000);
    }

    [Fact]
    public async Task ApiNodeGetsSigterm_ReportsNotReady_HAProxyTakesItOut_InFlightComplete_NoClientSeesAnError()
    {
        await cluster.EnsureHealthyAsync();
        var load = Load.Start(cluster.Client, "api-drain", 300, concurrency: 8, pace: TimeSpan.FromMilliseconds(10));
        await Until(() => load.Accepted >= 50, "50 notifications accepted before SIGTERM");
        await cluster.Api2.TerminateAsync();
        await Until(async () => await StatusAsync(new Uri(cluster.Direct[cluster.Api2], "/readyz")) == 503, "api2 /readyz to say 503 while draining",
            within: TimeSpan.FromSeconds(6));
        await Until(async () => (await cluster.BackendStatesAsync()).GetValueOrDefault("api2", "").StartsWith("DOWN", StringComparison.Ordinal),
            "HAProxy to mark api2 DOWN", within: TimeSpan.FromSeconds(30));
        // Still serving while it drains (a request that was on its way is answered), unless the drain already ended.
        var servingWhileDown = await StatusAsync(new Uri(cluster.Direct[cluster.Api2], "/healthz"));
        var drainedBeforeDown = !cluster.Api2.IsRunning;
        var exitCode = await cluster.Api2.WaitForExitAsync(TimeSpan.FromSeconds(60));
        await load.Completion;

        var row = await ReportAsync("SIGTERM api node (drain)", load,
            $"readyz 503 -> HAProxy DOWN -> exit {exitCode}; {load.RetriedAnswers} 5xx + {load.TransportErrors} connection errors seen by clients");
        AssertClean(row, load);
        Assert.True(servingWhileDown == 200 || drainedBeforeDown, $"api2 answered {servingWhileDown} while draining.");
        Assert.Equal(0, exitCode);
        Assert.True(cluster.Api2.Logged("not ready, serving"), "api2 did not log its drain.\n" + cluster.Api2.Tail());
        Assert.Equal(0, load.RetriedAnswers + load.TransportErrors);
        Assert.Equal(0, row.Duplicated);
    }

    [Fact]
    public async Task Edge_ServesTheConsole_TerminatesTls_AndRefusesOversizedBodies()
    {
        await cluster.EnsureHealthyAsync();
        using var anonymous = cluster.EdgeClient(null);
        var index = await anonymous.GetStringAsync("/");
        Assert.Contains("herald-console", index, StringComparison.Ordinal);
        // The console's client-side routes fall back to index.html.
        Assert.Contains("herald-console", await anonymous.GetStringAsync("/console/notifications/some-id"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/metrics")).StatusCode);

        using var big = new HttpRequestMessage(HttpMethod.Post, "/v1/notifications")
        {
            Content = new ByteArrayContent(new byte[2 * 1024 * 1024]) { Headers = { ContentType = new("application/json") } },
        };
        using var refused = await cluster.Client.SendAsync(big);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);

        // The API behind the console's origin: a call without a key reaches Herald through HAProxy and is refused there.
        using var unauthenticated = await anonymous.GetAsync("/v1/notifications");
        Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);
    }

    [Fact]
    public async Task Edge_ForwardsTheClientCertificate_ASourcePinnedToItTakesOnlyThatClient()
    {
        await cluster.EnsureHealthyAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=core-banking.example-bank.test", key, HashAlgorithmName.SHA256);
        var now = TimeProvider.System.GetUtcNow();
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
        using var other = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(29));

        // nginx forwards the SHA-1 fingerprint (what $ssl_client_fingerprint gives); the source pins it.
        using var created = await cluster.Client.PostAsJsonAsync("/v1/sources", new
        {
            name = "Core banking (mTLS)", adapter = "native", settings = new { }, clientCertificate = certificate.GetCertHashString(),
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var sourceId = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
        var keyValue = cluster.Client.DefaultRequestHeaders.Authorization!.Parameter;

        async Task<HttpStatusCode> PostAsync(X509Certificate2? presented, string? forgedHeader = null)
        {
            using var client = cluster.EdgeClient(keyValue, presented);
            using var message = new HttpRequestMessage(HttpMethod.Post, $"/v1/sources/{sourceId}/messages")
            {
                Content = JsonContent.Create(new { type = "service.news", customer = new { telegramChatId = "9000002" }, data = new { text = "mtls-" + Guid.NewGuid() } }),
            };
            if (forgedHeader is not null)
            {
                message.Headers.Add("X-Client-Cert-Fingerprint", forgedHeader);
            }

            using var response = await client.SendAsync(message);
            return response.StatusCode;
        }

        // Through nginx (TLS), HAProxy and an api node: the pinned certificate is let in, nothing else is.
        Assert.Equal(HttpStatusCode.Accepted, await PostAsync(certificate));
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(null));
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(other));
        // A client cannot claim the certificate by sending the header itself: nginx replaces it.
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(null, certificate.GetCertHashString()));
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(other, certificate.GetCertHashString()));
    }

    private async Task<ScenarioRow> ReportAsync(string scenario, Load load, string notes)
    {
        var accepted = load.AcceptedKeys;
        var settling = Stopwatch.StartNew();
        var clock = Stopwatch.StartNew();
        Dictionary<string, NotificationStatus> statuses;
        do
        {
            statuses = await cluster.StatusesAsync(load.Prefix);
            if (accepted.All(k => statuses.TryGetValue(k, out var s) && s >= NotificationStatus.Delivered))
            {
                break;
            }

            await Task.Delay(200);
        }
        while (clock.Elapsed < Settle);

        var received = new Dictionary<string, int>();
        foreach (var provider in new[] { cluster.ProviderA, cluster.ProviderB })
        {
            if (!provider.IsRunning)
            {
                continue;
            }

            foreach (var (text, times) in await cluster.ReceivedAsync(provider, load.Prefix))
            {
                received[text] = received.GetValueOrDefault(text) + times;
            }
        }

        var budget = await DuplicateBudgetAsync(load);
        notes = (notes.Length > 0 ? notes + "; " : "") + $"{budget} sends unconfirmed (in flight on a lost worker or timed out); settled in {settling.Elapsed.TotalSeconds:0} s";
        var row = ScenarioTable.Compute(scenario, load, statuses, received, notes);
        cluster.Table.Add(row);
        output.WriteLine(ScenarioTable.Header);
        output.WriteLine(ScenarioTable.Line(row));
        return row;
    }

    /// <summary>Sends whose outcome Herald could not know: in flight on a worker that died (or lost the database), or
    /// timed out. At-least-once (SPEC §2) allows a duplicate for each of them and for nothing else.</summary>
    private async Task<int> DuplicateBudgetAsync(Load load) =>
        await cluster.AttemptsAsync(load.Prefix, "worker_lost") + await cluster.AttemptsAsync(load.Prefix, "timeout");

    private async Task AssertDuplicatesExplainedAsync(ScenarioRow row, Load load)
    {
        var budget = await DuplicateBudgetAsync(load);
        Assert.True(row.Duplicated <= budget, $"{row.Duplicated} duplicates but only {budget} sends had an unknown outcome.\n{ScenarioTable.Line(row)}");
    }

    private void Replace(ScenarioRow row)
    {
        cluster.Table.Replace(row);
        output.WriteLine(ScenarioTable.Line(row));
    }

    private void AssertClean(ScenarioRow row, Load load)
    {
        var context = $"{ScenarioTable.Line(row)}\n{cluster.Tails()}";
        Assert.True(load.Rejected == 0, $"{load.Rejected} requests were refused as invalid.\n{context}");
        Assert.True(row.NotAccepted == 0, $"{row.NotAccepted} notifications were never accepted.\n{context}");
        Assert.True(row.Lost == 0, $"{row.Lost} accepted notifications were lost.\n{context}");
        Assert.True(row.Failed == 0, $"{row.Failed} notifications failed.\n{context}");
        Assert.True(row.Phantom == 0, $"{row.Phantom} notifications are recorded delivered but no provider received them.\n{context}");
        Assert.Equal(load.Count, row.Delivered);
    }

    private async Task ShapeAsync(ChildProcess provider, object settings)
    {
        using var response = await cluster.Probe.PutAsJsonAsync(new Uri(cluster.Direct[provider], "/sandbox/settings"), settings);
        response.EnsureSuccessStatusCode();
    }

    private async Task<int> StatusAsync(Uri uri)
    {
        try
        {
            using var response = await cluster.Probe.GetAsync(uri);
            return (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return 0;
        }
    }

    private static Task Until(Func<bool> condition, string what, TimeSpan? within = null) =>
        Cluster.Eventually(() => Task.FromResult(condition()), what, within: within ?? TimeSpan.FromSeconds(60));

    private Task Until(Func<Task<bool>> condition, string what, TimeSpan? within = null) =>
        Cluster.Eventually(condition, what, within: within ?? TimeSpan.FromSeconds(60));
}
