using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.EndToEnd.Tests.Webhooks;
using Herald.Testing;

namespace Herald.EndToEnd.Tests.Observability;

/// <summary>
/// Issue #18, traces: one trace per notification across processes. An api process and a worker process (real
/// processes, as a bank deploys them) export OTLP to a receiver on loopback; the bank's traceparent on the POST
/// roots the trace, and ingest → commit → send → provider call → receipt → bank webhook form one tree in it.
/// </summary>
public sealed partial class TracingTests(PostgresFixture postgres, ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task OneNotification_IsOneTrace_AcrossTheApiAndWorkerProcesses()
    {
        var database = await postgres.CreateDatabaseAsync("traces_" + Guid.NewGuid().ToString("N")[..12]);
        await using var otlp = await OtlpReceiver.StartAsync();
        await using var bank = new WebhookReceiver();
        await bank.StartAsync();
        var apiPort = FreePort.Pick();
        var apiUrl = $"http://127.0.0.1:{apiPort}";
        using var api = StartNode("api", apiUrl, database, otlp.Endpoint, ("Herald__MigrateOnStart", "true"));
        await WaitUntilServingAsync(apiUrl, api.Process);
        using var worker = StartNode("worker", "http://127.0.0.1:0", database, otlp.Endpoint, ("Herald__Sandbox__Enabled", "false"));

        var host = new HttpClient { BaseAddress = new Uri(apiUrl) };
        host.DefaultRequestHeaders.Authorization = new("Bearer", HeraldHost.AdminKey);
        var client = await CreateTenantAsync(host, apiUrl);
        using (var hook = await client.PostAsJsonAsync("/v1/webhooks", new { url = bank.Url }))
        {
            Assert.True(hook.StatusCode == HttpStatusCode.Created, await hook.Content.ReadAsStringAsync());
        }

        var bankTrace = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var bankSpan = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..8]);
        var phone = TestData.Phone();
        using var post = new HttpRequestMessage(HttpMethod.Post, "/v1/notifications")
        {
            Content = JsonContent.Create(new { type = "card.transaction", channels = new[] { "whatsapp" }, customer = new { phone }, data = new { text = "Card payment 12.50" } }),
        };
        post.Headers.Add("traceparent", $"00-{bankTrace}-{bankSpan}-01");
        using var accepted = await client.SendAsync(post);
        Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync());
        var id = (await accepted.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
        await client.WaitForStatusAsync(id, "delivered", Deadline);

        // The bank's webhook request carries the bank's trace.
        var webhook = await TestData.EventuallyAsync(
            () => Task.FromResult(bank.Received.FirstOrDefault()), w => w is not null, Deadline, "the delivered event at the bank");
        Assert.StartsWith($"00-{bankTrace}-", webhook!.TraceParent, StringComparison.Ordinal);

        // Every Herald span of the notification in the bank's trace, from both processes, joined in one tree.
        string[] expected = ["herald.ingest", "herald.commit", "herald.deliver", "herald.provider.send", "herald.receipt", "herald.webhook"];
        var spans = await TestData.EventuallyAsync(
            () => Task.FromResult(otlp.Spans.Where(s => s.TraceId == bankTrace).ToList()),
            s => expected.All(name => s.Any(x => x.Name == name)) && IsOneTree(s, bankSpan),
            Deadline, "the notification's spans to arrive and form one tree");
        foreach (var span in spans)
        {
            output.WriteLine($"{span.Resource.GetValueOrDefault("herald.role")} {span.Name} {span.SpanId} <- {span.ParentId}");
        }

        Assert.Equal("api", Role(spans, "herald.ingest"));
        Assert.Equal("worker", Role(spans, "herald.deliver"));
        Assert.Equal("worker", Role(spans, "herald.provider.send"));
        // The receipt is processed where it lands (the api, which hosts the sandbox's callback target), unless it
        // came before the worker stored the provider's message id: then it is parked and the worker's write of the
        // attempt takes it back. Either way it joins the notification's trace.
        Assert.Contains(Role(spans, "herald.receipt"), new[] { "api", "worker" });
        Assert.Equal("worker", Role(spans, "herald.webhook"));
        Assert.NotEqual(Pid(spans, "herald.ingest"), Pid(spans, "herald.deliver"));
        Assert.Equal(id.ToString(), spans.First(s => s.Name == "herald.deliver").Attributes["herald.notification.id"]);

        // Ids, not personal data: no span attribute carries the phone number or the text.
        var values = spans.SelectMany(s => s.Attributes.Values).ToList();
        Assert.DoesNotContain(values, v => v.Contains(phone.TrimStart('+'), StringComparison.Ordinal) || v.Contains("12.50", StringComparison.Ordinal));

        // Nor secrets: a Telegram send's URL holds the bot token in its path; every exported span has it redacted.
        var telegram = await client.SendAsync(new { type = "card.transaction", channels = new[] { "telegram" }, customer = new { telegramChatId = "9001" }, data = new { text = "Paid" } });
        await client.WaitForStatusAsync(telegram, "delivered", Deadline);
        var sandboxCall = await TestData.EventuallyAsync(
            () => Task.FromResult(otlp.Spans.FirstOrDefault(s => s.Attributes.GetValueOrDefault("url.full")?.Contains("/bot", StringComparison.Ordinal) == true)),
            s => s is not null, Deadline, "the Telegram provider call's span");
        Assert.Contains("/bot{redacted}/sendMessage", sandboxCall!.Attributes["url.full"], StringComparison.Ordinal);
        Assert.DoesNotContain(otlp.Spans.SelectMany(s => s.Attributes.Values), v => BotToken().IsMatch(v));
    }

    [System.Text.RegularExpressions.GeneratedRegex("bot[0-9]+:[A-Za-z0-9_-]{8,}")]
    private static partial System.Text.RegularExpressions.Regex BotToken();

    /// <summary>Every span's parent is another span of the trace, except the root's, which is the bank's span.</summary>
    private static bool IsOneTree(List<ReceivedSpan> spans, string bankSpan)
    {
        var ids = spans.Select(s => s.SpanId).ToHashSet(StringComparer.Ordinal);
        return spans.All(s => ids.Contains(s.ParentId) || s.ParentId == bankSpan) && spans.Count(s => s.ParentId == bankSpan) == 1;
    }

    private static string? Role(List<ReceivedSpan> spans, string name) => spans.First(s => s.Name == name).Resource.GetValueOrDefault("herald.role");

    private static string? Pid(List<ReceivedSpan> spans, string name) => spans.First(s => s.Name == name).Resource.GetValueOrDefault("service.instance.id");

    private static async Task<HttpClient> CreateTenantAsync(HttpClient admin, string apiUrl)
    {
        using var tenant = await admin.PostAsJsonAsync("/v1/admin/tenants", new { name = "Traced Bank" });
        tenant.EnsureSuccessStatusCode();
        var tenantId = (await tenant.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
        using var key = await admin.PostAsJsonAsync($"/v1/admin/tenants/{tenantId}/keys", new { roles = new[] { "send", "read", "admin" } });
        key.EnsureSuccessStatusCode();
        var client = new HttpClient { BaseAddress = new Uri(apiUrl) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", (await key.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>());
        return client;
    }

    private static Node StartNode(string role, string url, string database, string otlpEndpoint, params (string Key, string Value)[] extra)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Herald.Server.dll");
        var info = new ProcessStartInfo("dotnet", [dll, role, "--urls", url])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in HeraldHost.BaseSettings(database))
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        info.Environment["Herald__Webhooks__AllowInsecureUrls"] = "true";
        info.Environment["Herald__Webhooks__PollInterval"] = "00:00:00.050";
        info.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpEndpoint;
        info.Environment["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
        // Exported within a fraction of a second, not the default 5 s.
        info.Environment["OTEL_BSP_SCHEDULE_DELAY"] = "100";
        foreach (var (key, value) in extra)
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new Node(process);
    }

    private static async Task WaitUntilServingAsync(string url, Process process)
    {
        using var probe = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(5) };
        await TestData.EventuallyAsync(
            async () =>
            {
                Assert.False(process.HasExited, $"the api process exited with {(process.HasExited ? process.ExitCode : 0)}");
                try
                {
                    using var response = await probe.GetAsync("/readyz");
                    return response.IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            ok => ok, Deadline, "the api process to serve");
    }

    /// <summary>A node process, killed when the test ends.</summary>
    private sealed class Node(Process process) : IDisposable
    {
        public Process Process => process;

        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }

            process.Dispose();
        }
    }

}
