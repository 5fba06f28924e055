using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;

namespace Herald.EndToEnd.Tests;

/// <summary>SPEC §2 delivery semantics over HTTP on PostgreSQL.</summary>
public sealed class PostgresDeliveryPipelineTests(PipelineHostFixture fixture)
    : DeliveryPipelineTests(() => fixture.Host), IClassFixture<PipelineHostFixture>;

/// <summary>The same scenarios on the embedded SQLite backend.</summary>
public sealed class SqliteDeliveryPipelineTests(SqlitePipelineHostFixture fixture)
    : DeliveryPipelineTests(() => fixture.Host), IClassFixture<SqlitePipelineHostFixture>;

/// <summary>SPEC §2 delivery semantics over HTTP: real host, real storage, in-process sandbox. Runs on every backend.</summary>
public abstract class DeliveryPipelineTests(Func<HeraldHost> host)
{
    private HeraldHost Host => host();

    [Fact]
    public async Task Notification_ToWhatsAppUser_IsDeliveredOnWhatsApp()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();

        var id = await client.SendAsync(new { type = "card.transaction", customer = new { phone }, data = new { text = "You paid 12.50 EUR" } });

        var n = await client.WaitForStatusAsync(id, "delivered");
        Assert.Equal("whatsapp", n.Str("channel"));
        Assert.Equal("high", n.Str("priority"));
        var attempt = Assert.Single(n.Attempts());
        Assert.Equal("delivered", attempt.Str("state"));
        Assert.StartsWith("wamid.", attempt.Str("providerMessageId"), StringComparison.Ordinal);
        var received = Assert.Single(await client.SandboxMessagesAsync("whatsapp", phone));
        Assert.Equal("You paid 12.50 EUR", received.Str("text"));
    }

    [Fact]
    public async Task Notification_RepeatedWithIdempotencyKey_IsDeliveredOnce()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        var body = new { type = "account.balance", customer = new { phone }, data = new { text = "Balance 100 EUR" } };

        var id = await client.SendAsync(body, "balance-42");
        using var repeat = new HttpRequestMessage(HttpMethod.Post, "/v1/notifications") { Content = JsonContent.Create(body) };
        repeat.Headers.Add("Idempotency-Key", "balance-42");
        using var second = await client.SendAsync(repeat);

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(id, (await second.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>());
        await client.WaitForStatusAsync(id, "delivered");
        Assert.Single(await client.SandboxMessagesAsync("whatsapp", phone));
    }

    [Fact]
    public async Task Notification_RepeatedWithExternalId_ReturnsOriginal()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var body = new { type = "service.news", customer = new { phone = TestData.Phone() }, externalId = "news-7" };

        var id = await client.SendAsync(body);
        using var second = await client.PostAsJsonAsync("/v1/notifications", body);

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(id, (await second.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>());
    }

    [Fact]
    public async Task Notification_KeyReusedForAnotherBody_Is422_TrueRepeatStays200()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        const string original = """{"type":"account.balance","customer":{"phone":"PHONE"},"data":{"text":"Balance 100 EUR","n":1}}""";
        // The same request, written differently (whitespace): a true repeat.
        const string reformatted = """{ "type": "account.balance", "customer": { "phone": "PHONE" }, "data": { "text": "Balance 100 EUR", "n": 1 } }""";
        const string other = """{"type":"account.balance","customer":{"phone":"PHONE"},"data":{"text":"Balance 999 EUR","n":1}}""";

        var (created, first) = await PostAsync(client, original.Replace("PHONE", phone, StringComparison.Ordinal), "bal-1");
        var (repeated, again) = await PostAsync(client, reformatted.Replace("PHONE", phone, StringComparison.Ordinal), "bal-1");
        var (reused, problem) = await PostAsync(client, other.Replace("PHONE", phone, StringComparison.Ordinal), "bal-1");

        Assert.Equal(HttpStatusCode.Accepted, created);
        Assert.Equal(HttpStatusCode.OK, repeated);
        Assert.Equal(first["id"]!.GetValue<Guid>(), again["id"]!.GetValue<Guid>());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused);
        Assert.EndsWith("/idempotency-key-reused", problem["type"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("header/Idempotency-Key", problem["errors"]![0]!["pointer"]!.GetValue<string>());

        // The same for an externalId, and inside a batch: per item, against the stored one and an earlier item alike.
        var withExternal = """{"type":"service.news","externalId":"news-9","customer":{"phone":"PHONE"},"data":{"v":1}}""".Replace("PHONE", phone, StringComparison.Ordinal);
        var changed = withExternal.Replace("\"v\":1", "\"v\":2", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(client, withExternal, null)).Status);
        var (externalReused, externalProblem) = await PostAsync(client, changed, null);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, externalReused);
        Assert.Equal("/externalId", externalProblem["errors"]![0]!["pointer"]!.GetValue<string>());

        var fresh = withExternal.Replace("news-9", "news-10", StringComparison.Ordinal);
        var (batchStatus, batch) = await PostAsync(client, $"{{\"items\":[{withExternal},{changed},{fresh},{fresh.Replace("\"v\":1", "\"v\":3", StringComparison.Ordinal)}]}}", null, "/v1/notifications/batch");
        Assert.Equal(HttpStatusCode.Accepted, batchStatus);
        var items = batch["items"]!.AsArray();
        Assert.Equal(["duplicate", "rejected", "accepted", "rejected"], items.Select(i => i!["outcome"]!.GetValue<string>()));
        Assert.Equal("/items/1/externalId", items[1]!["errors"]![0]!["pointer"]!.GetValue<string>());
        Assert.Equal("/items/3/externalId", items[3]!["errors"]![0]!["pointer"]!.GetValue<string>());
    }

    private static async Task<(HttpStatusCode Status, JsonObject Body)> PostAsync(HttpClient client, string json, string? key, string path = "/v1/notifications")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        using var response = await client.SendAsync(request);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    [Fact]
    public async Task Notification_ToNonWhatsAppNumber_FallsBackToTelegram()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var chatId = TestData.ChatId();

        var id = await client.SendAsync(new { type = "card.transaction", customer = new { phone = TestData.Phone("0001"), telegramChatId = chatId } });

        var n = await client.WaitForStatusAsync(id, "delivered");
        Assert.Equal("telegram", n.Str("channel"));
        var attempts = n.Attempts();
        Assert.Equal("whatsapp", attempts[0].Str("channel"));
        Assert.Equal("failed", attempts[0].Str("state"));
        Assert.Equal("131026", attempts[0].Str("errorCode"));
        Assert.Equal("telegram", attempts[^1].Str("channel"));
        Assert.Equal("delivered", attempts[^1].Str("state"));
        Assert.Single(await client.SandboxMessagesAsync("telegram", chatId));
    }

    [Fact]
    public async Task Notification_ToNonWhatsAppNumberWithoutTelegram_FallsBackToSms_AndTheDeliveryReceiptArrives()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone("0001");

        var id = await client.SendAsync(new { type = "card.transaction", customer = new { phone }, data = new { text = "SMS fallback" } });

        var n = await client.WaitForStatusAsync(id, "delivered");
        Assert.Equal("sms", n.Str("channel"));
        Assert.Single(await client.SandboxMessagesAsync("sms", phone));
        // The Twilio-style status callback (signed with X-Twilio-Signature) moves the attempt to delivered.
        await TestData.EventuallyAsync(
            async () => (await client.GetNotificationAsync(id)).Attempts()[^1].Str("state"), s => s == "delivered", TimeSpan.FromSeconds(20), "the SMS delivery receipt");
    }

    [Fact]
    public async Task Notification_ToInvalidSmsNumber_FallsBackToEmail()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var email = $"ana.{Guid.NewGuid():N}@example.com";

        var id = await client.SendAsync(new { type = "account.balance", channels = new[] { "sms", "email" }, customer = new { phone = TestData.Phone("0004"), email }, data = new { text = "Your balance is 100 EUR" } });

        var n = await client.WaitForStatusAsync(id, "delivered");
        Assert.Equal("email", n.Str("channel"));
        Assert.Equal("21211", n.Attempts()[0].Str("errorCode"));
        var received = Assert.Single(await client.SandboxMessagesAsync("email", email));
        Assert.Equal("Your balance is 100 EUR", received.Str("text"));
    }

    [Fact]
    public async Task Notification_ToBouncingEmail_Fails()
    {
        var (_, client) = await Host.CreateTenantAsync();

        var id = await client.SendAsync(new { type = "service.news", customer = new { email = $"gone.{Guid.NewGuid():N}@bounce.test" } });

        var n = await client.WaitForStatusAsync(id, "failed");
        Assert.Equal("permanent", Assert.Single(n.Attempts()).Str("failureKind"));
    }

    [Fact]
    public async Task Notification_WithoutWhatsAppReceipt_FallsBackAfterTimeout()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var chatId = TestData.ChatId();

        var id = await client.SendAsync(new { type = "card.transaction", customer = new { phone = TestData.Phone("0002"), telegramChatId = chatId } });

        var n = await client.WaitForStatusAsync(id, "delivered", HeraldHost.WhatsAppReceiptTimeout + TimeSpan.FromSeconds(30));
        Assert.Equal("telegram", n.Str("channel"));
        var whatsapp = n.Attempts()[0];
        Assert.Equal("timed-out", whatsapp.Str("state"));
        Assert.Equal("receipt_timeout", whatsapp.Str("errorCode"));
    }

    [Fact]
    public async Task Notification_ToFlakyProvider_IsRetriedAndDeliveredOnce()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone("0003");

        var id = await client.SendAsync(new { type = "otp", customer = new { phone }, data = new { text = "Code 123456" } });

        var n = await client.WaitForStatusAsync(id, "delivered");
        Assert.Equal("whatsapp", n.Str("channel"));
        var attempts = n.Attempts();
        Assert.Equal(3, attempts.Count);
        Assert.All(attempts.Take(2), a => Assert.Equal("transient", a.Str("failureKind")));
        Assert.Equal("delivered", attempts[2].Str("state"));
        Assert.Single(await client.SandboxMessagesAsync("whatsapp", phone));
    }

    [Fact]
    public async Task ExpiredOtp_IsNeverSent()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();

        var id = await client.SendAsync(new { type = "otp", customer = new { phone }, expiresAt = "2020-01-01T00:00:00Z" });

        var n = await client.WaitForStatusAsync(id, "expired");
        Assert.Empty(n.Attempts());
        Assert.Empty(await client.SandboxMessagesAsync(to: phone));
    }

    [Fact]
    public async Task Notification_WithNoReachableChannel_Fails()
    {
        var (_, client) = await Host.CreateTenantAsync();

        var id = await client.SendAsync(new { type = "service.news", customer = new { telegramChatId = TestData.ChatId("403") } });

        var n = await client.WaitForStatusAsync(id, "failed");
        var attempt = Assert.Single(n.Attempts());
        Assert.Equal("permanent", attempt.Str("failureKind"));
    }

    [Fact]
    public async Task Cancel_BeforeDelivery_EndsCancelled_AndFinalCannotBeCancelled()
    {
        var (_, client) = await Host.CreateTenantAsync();
        // 0002 waits for a receipt that never comes, so the notification stays in flight long enough to cancel.
        var id = await client.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone("0002") } });
        await client.WaitForStatusAsync(id, "sending");

        using var cancel = await client.PostAsync($"/v1/notifications/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal("cancelled", (await client.GetNotificationAsync(id)).Str("status"));

        using var again = await client.PostAsync($"/v1/notifications/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task Batch_MixedItems_ReportsPerItemAndDeliversValidOnes()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();

        using var response = await client.PostAsJsonAsync("/v1/notifications/batch", new
        {
            items = new object[]
            {
                new { type = "account.balance", customer = new { phone }, externalId = "b-1" },
                new { type = "account.balance", customer = new { phone = "12345" } },
                new { type = "account.balance", customer = new { phone }, externalId = "b-1" },
            },
        });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var result = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(1, result["accepted"]!.GetValue<int>());
        Assert.Equal(1, result["rejected"]!.GetValue<int>());
        Assert.Equal(1, result["duplicates"]!.GetValue<int>());
        var items = result["items"]!.AsArray();
        Assert.Equal("/items/1/customer/phone", items[1]!["errors"]![0].Str("pointer"));
        Assert.Equal(items[0].Str("id"), items[2].Str("id"));
        await client.WaitForStatusAsync(items[0]!["id"]!.GetValue<Guid>(), "delivered");
    }

    [Fact]
    public async Task Search_FiltersBySource_AndTheViewNamesIt()
    {
        var (_, client) = await Host.CreateTenantAsync();
        using var created = await client.PostAsJsonAsync("/v1/sources", new { name = "core banking", adapter = "native", settings = new { } });
        created.EnsureSuccessStatusCode();
        var sourceId = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
        using var viaSource = await client.PostAsync(
            $"/v1/sources/{sourceId}/messages",
            new StringContent($$$"""{"type":"service.news","customer":{"phone":"{{{TestData.Phone()}}}"},"data":{"text":"from core"}}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, viaSource.StatusCode);
        var fromSource = (await viaSource.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
        var plain = await client.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone() } });

        var found = (await client.GetFromJsonAsync<JsonObject>($"/v1/notifications?sourceId={sourceId}"))!;

        var item = Assert.Single(found["items"]!.AsArray())!;
        Assert.Equal(fromSource, item["id"]!.GetValue<Guid>());
        Assert.Equal(sourceId, item["sourceId"]!.GetValue<Guid>());
        Assert.Null((await client.GetNotificationAsync(plain))["sourceId"]);
        using var bad = await client.GetAsync("/v1/notifications?sourceId=core");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Search_FiltersByExternalIdAndStatus()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var id = await client.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone() }, externalId = "find-me" });
        await client.WaitForStatusAsync(id, "delivered");

        var found = (await client.GetFromJsonAsync<JsonObject>("/v1/notifications?externalId=find-me&status=delivered"))!;

        Assert.Equal(id, Assert.Single(found["items"]!.AsArray())!["id"]!.GetValue<Guid>());
    }
}
