using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Herald.Testing;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Issue #17, erasure on request: after <c>POST /v1/customers/{id}/erase</c> (or <c>POST /v1/erasures</c> for inline
/// contacts) the customer's phone, email and texts appear nowhere in the database — read as a logical dump of every
/// row of every table — while ids, types and states remain; what was still to be sent is cancelled first; another
/// customer's and another tenant's data stay. Both backends.
/// </summary>
public sealed class ErasureTests(PostgresFixture postgres)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task ErasingACustomer_RemovesItsContactsAndTexts_Everywhere_KeepingTheRecordOfWhatWasSent(string backend)
    {
        using var folder = new TempFolder();
        var (host, dump) = await StartAsync(backend, folder);
        await using var _ = host;
        var (_, client) = await host.CreateTenantAsync();
        var (_, otherTenant) = await host.CreateTenantAsync("Other Bank");
        var phone = TestData.Phone();
        var email = $"erase-{Guid.NewGuid():N}@example.com";
        var keptPhone = TestData.Phone();
        using (var put = await client.PutAsJsonAsync("/v1/customers/c-erase", new { phone, email }))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        using (var rules = await client.PutAsJsonAsync("/v1/rules", JsonNode.Parse("""
            {"rules": [{"name": "later", "when": "type == 'later.news'", "then": {"delay": "1h"}}]}
            """)))
        {
            Assert.True(rules.IsSuccessStatusCode, await rules.Content.ReadAsStringAsync());
        }

        var delivered = await client.SendAsync(new { type = "card.transaction", customer = new { id = "c-erase" }, data = new { text = "Paid 71.15 at Secret Shop" } });
        await client.WaitForStatusAsync(delivered, "delivered", Deadline);
        // The customer answers on WhatsApp (two-way, issue #16): what it typed is its data too.
        using (var sandbox = host.SandboxClient())
        using (var reply = await sandbox.PostAsJsonAsync("/sandbox/replies", new { channel = "whatsapp", from = phone, text = "Was not me, Private Reply" }))
        {
            Assert.True(reply.IsSuccessStatusCode, await reply.Content.ReadAsStringAsync());
        }

        // Stored encrypted (issue #17): the API, not the dump, shows it arrived.
        await TestData.EventuallyAsync(
            async () => (await client.GetFromJsonAsync<JsonObject>("/v1/customers/c-erase/messages"))!.ToJsonString(),
            m => m.Contains("Private Reply", StringComparison.Ordinal), Deadline, "the customer's reply to be stored");
        var waiting = await client.SendAsync(new { type = "later.news", customer = new { id = "c-erase" }, data = new { text = "Rate change for Erase Me" } });
        var kept = await client.SendAsync(new { type = "card.transaction", customer = new { id = "c-keep", phone = keptPhone }, data = new { text = "Paid 9.99 at Kept Shop" } });
        var othersSamePhone = await otherTenant.SendAsync(new { type = "card.transaction", customer = new { phone }, data = new { text = "Other bank's 5.55" } });
        await client.WaitForStatusAsync(kept, "delivered", Deadline);

        using var erase = await client.PostAsync("/v1/customers/c-erase/erase", null);
        var result = (await erase.Content.ReadFromJsonAsync<JsonObject>())!;

        Assert.Equal(HttpStatusCode.OK, erase.StatusCode);
        Assert.True(result["customerDeleted"]!.GetValue<bool>());
        Assert.Equal(1, result["cancelled"]!.GetValue<int>());
        Assert.Equal(2, result["redacted"]!.GetValue<int>());
        Assert.Equal(1, result["redactedMessages"]!.GetValue<int>());
        var text = await dump();
        foreach (var erased in new[] { phone[1..], email, "Secret Shop", "Erase Me", "Private Reply" })
        {
            // Encrypted at rest (issue #17), the other tenant's notification to the same phone shows nothing either.
            Assert.Equal(0, Occurrences(text, erased));
        }

        // The other tenant's notification to that phone is its own record, untouched: its own erasure still finds it.
        using (var others = await otherTenant.PostAsJsonAsync("/v1/erasures", new { phone }))
        {
            Assert.Equal(1, (await others.Content.ReadFromJsonAsync<JsonObject>())!["redacted"]!.GetValue<int>());
        }
        // What proves a notification was sent stays: id, type, final state, the attempt.
        var record = await client.GetNotificationAsync(delivered);
        Assert.Equal("delivered", record["status"]!.GetValue<string>());
        Assert.Equal("card.transaction", record["type"]!.GetValue<string>());
        Assert.NotEmpty(record["attempts"]!.AsArray());
        Assert.Equal("cancelled", (await client.GetNotificationAsync(waiting))["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v1/customers/c-erase")).StatusCode);
        Assert.NotNull(await otherTenant.GetNotificationAsync(othersSamePhone));

        // Repeating it changes nothing more and says so.
        using var again = await client.PostAsync("/v1/customers/c-erase/erase", null);
        Assert.False((await again.Content.ReadFromJsonAsync<JsonObject>())!["customerDeleted"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task ErasingByInlinePhoneOrEmail_RedactsThoseNotifications_AndBadRequestsChangeNothing(string backend)
    {
        using var folder = new TempFolder();
        var (host, dump) = await StartAsync(backend, folder);
        await using var _ = host;
        var (_, client) = await host.CreateTenantAsync();
        var phone = TestData.Phone();
        var email = $"inline-{Guid.NewGuid():N}@example.com";
        var byPhone = await client.SendAsync(new { type = "card.transaction", channels = new[] { "sms" }, customer = new { phone }, data = new { text = "Inline 12.34" } });
        var byEmail = await client.SendAsync(new { type = "card.transaction", channels = new[] { "email" }, customer = new { email }, data = new { text = "Inline mail 56.78" } });
        await client.WaitForStatusAsync(byPhone, "delivered", Deadline);
        await client.WaitForStatusAsync(byEmail, "delivered", Deadline);

        foreach (var (body, pointer) in new[] { ("{\"phone\":\"0151 123\"}", "/phone"), ("{}", "/"), ("{\"colour\":\"red\"}", "/colour"), ("{\"email\":\"nobody\"}", "/email") })
        {
            using var bad = await client.PostAsync("/v1/erasures", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var problem = (await bad.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.Contains(problem["errors"]!.AsArray(), e => e!["pointer"]!.GetValue<string>() == pointer);
        }

        using (var erase = await client.PostAsJsonAsync("/v1/erasures", new { phone }))
        {
            Assert.Equal(1, (await erase.Content.ReadFromJsonAsync<JsonObject>())!["redacted"]!.GetValue<int>());
        }

        using (var erase = await client.PostAsJsonAsync("/v1/erasures", new { email }))
        {
            Assert.Equal(1, (await erase.Content.ReadFromJsonAsync<JsonObject>())!["redacted"]!.GetValue<int>());
        }

        var text = await dump();
        Assert.DoesNotContain(phone[1..], text);
        Assert.DoesNotContain(email, text);
        Assert.DoesNotContain("Inline", text);
    }

    private static int Occurrences(string text, string what)
    {
        var count = 0;
        for (var i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>A host and a logical dump of its database: every row of every table as text, as a backup would hold it.</summary>
    private async Task<(HeraldHost Host, Func<Task<string>> Dump)> StartAsync(string backend, TempFolder folder)
    {
        var settings = backend == "postgres"
            ? HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_erasure_" + Guid.NewGuid().ToString("N")[..8]))
            : HeraldHost.SqliteSettings(folder.Path);
        var host = await HeraldHost.StartAsync(HeraldRole.All, settings);
        return backend == "postgres"
            ? (host, () => DatabaseDump.PostgresAsync(settings["ConnectionStrings:Postgres"]!))
            : (host, () => Task.FromResult(DatabaseDump.Sqlite(settings["ConnectionStrings:Sqlite"]!)));
    }
}
