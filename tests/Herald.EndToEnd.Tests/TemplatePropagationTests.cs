using System.Net;
using System.Net.Http.Json;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Herald.Server.Templates;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// A template saved through an api node is what the worker renders next, although the worker caches templates for
/// ten minutes: the change fan-out (here PostgreSQL LISTEN/NOTIFY, no Redis) makes it forget its copy.
/// </summary>
public sealed class TemplatePropagationTests(PostgresFixture postgres)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TemplateSavedOnTheApiNode_IsRenderedByTheWorker_WithoutWaitingForItsCache()
    {
        var database = await postgres.CreateDatabaseAsync("templates_" + Guid.NewGuid().ToString("N")[..12]);
        var settings = HeraldHost.BaseSettings(database);
        settings["Herald:Templates:CacheTtl"] = "00:10:00";
        await using var api = await HeraldHost.StartAsync(HeraldRole.Api, settings);
        await using var worker = await HeraldHost.StartAsync(HeraldRole.Worker, settings);
        await worker.Services.GetRequiredService<IChangeFeed>().Listening.WaitAsync(Deadline, Ct);
        var cache = worker.Services.GetRequiredService<TemplateCache>();
        var (tenantId, client) = await api.CreateTenantAsync();
        var chat = TestData.ChatId();

        await SaveAsync(client, "First version: {{ data.amount }}");
        Assert.Equal("First version: 5", await DeliveredTextAsync(client, chat));
        Assert.True(cache.Holds(tenantId));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await SaveAsync(client, "Second version: {{ data.amount }}");
        await TestData.EventuallyAsync(() => Task.FromResult(cache.Holds(tenantId)), held => !held, TestData.PropagationDeadline, "the worker to forget its templates");
        TestContext.Current.TestOutputHelper?.WriteLine($"Template change reached the worker after {clock.Elapsed.TotalMilliseconds:F0} ms.");

        Assert.Equal("Second version: 5", await DeliveredTextAsync(client, chat));
    }

    private static async Task SaveAsync(HttpClient client, string body)
    {
        using var response = await client.PostAsJsonAsync("/v1/templates", new { name = "card.transaction", channel = "telegram", body }, Ct);
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Ct));
    }

    private static async Task<string> DeliveredTextAsync(HttpClient client, string chat)
    {
        var id = await client.SendAsync(new { type = "card.transaction", channels = new[] { "telegram" }, customer = new { telegramChatId = chat }, data = new { amount = 5 } });
        await client.WaitForStatusAsync(id, "delivered", Deadline);
        // The chat is this test's own; the sandbox lists what it received in order.
        return (await client.SandboxMessagesAsync("telegram", chat))[^1].Str("text");
    }
}
