using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;

namespace Herald.EndToEnd.Tests;

/// <summary>Stored customers, preferences, quiet hours and templates end to end on PostgreSQL.</summary>
public sealed class PostgresCustomerDeliveryTests(PipelineHostFixture fixture)
    : CustomerDeliveryTests(() => fixture.Host), IClassFixture<PipelineHostFixture>;

/// <summary>The same scenarios on the embedded SQLite backend.</summary>
public sealed class SqliteCustomerDeliveryTests(SqlitePipelineHostFixture fixture)
    : CustomerDeliveryTests(() => fixture.Host), IClassFixture<SqlitePipelineHostFixture>;

/// <summary>Issue #4 items 4-5 over HTTP: real host, real storage, in-process sandbox.</summary>
public abstract class CustomerDeliveryTests(Func<HeraldHost> host)
{
    private HeraldHost Host => host();

    private static async Task PutCustomerAsync(HttpClient client, string id, object body)
    {
        using var response = await client.PutAsJsonAsync($"/v1/customers/{Uri.EscapeDataString(id)}", body);
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    private static async Task SaveTemplateAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync("/v1/templates", body);
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task CustomerIdOnly_IsDeliveredWithTheStoredContacts()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        await PutCustomerAsync(client, "c-100", new { phone });

        var id = await client.SendAsync(new { type = "card.transaction", customer = new { id = "c-100" }, data = new { text = "You paid 9 EUR" } });

        var n = await client.WaitForStatusAsync(id, "delivered");
        Assert.Equal("whatsapp", n.Str("channel"));
        var received = Assert.Single(await client.SandboxMessagesAsync("whatsapp", phone));
        Assert.Equal("You paid 9 EUR", received.Str("text"));
    }

    [Fact]
    public async Task InlineContacts_WinOverStoredOnes()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var stored = TestData.ChatId();
        var inline = TestData.ChatId();
        await PutCustomerAsync(client, "c-101", new { telegramChatId = stored });

        var id = await client.SendAsync(new { type = "service.news", channels = new[] { "telegram" }, customer = new { id = "c-101", telegramChatId = inline } });

        await client.WaitForStatusAsync(id, "delivered");
        Assert.Single(await client.SandboxMessagesAsync("telegram", inline));
        Assert.Empty(await client.SandboxMessagesAsync("telegram", stored));
    }

    [Fact]
    public async Task UnknownCustomer_WithoutContacts_IsRejected_WithContacts_IsAccepted()
    {
        var (_, client) = await Host.CreateTenantAsync();

        using var rejected = await client.PostAsJsonAsync("/v1/notifications", new { type = "otp", customer = new { id = "nobody" } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, rejected.StatusCode);
        Assert.Equal("application/problem+json", rejected.Content.Headers.ContentType?.MediaType);
        var problem = (await rejected.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("/customer/id", problem["errors"]![0].Str("pointer"));

        await client.SendAsync(new { type = "otp", customer = new { id = "nobody", phone = TestData.Phone() } });
    }

    [Fact]
    public async Task Batch_UnknownCustomerItem_IsRejectedAlone()
    {
        var (_, client) = await Host.CreateTenantAsync();
        await PutCustomerAsync(client, "known", new { telegramChatId = TestData.ChatId() });

        using var response = await client.PostAsJsonAsync("/v1/notifications/batch", new
        {
            items = new object[]
            {
                new { type = "service.news", customer = new { id = "unknown" } },
                new { type = "service.news", customer = new { id = "known" } },
            },
        });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var items = (await response.Content.ReadFromJsonAsync<JsonObject>())!["items"]!.AsArray();
        Assert.Equal("rejected", items[0].Str("outcome"));
        Assert.Equal("/items/0/customer/id", items[0]!["errors"]![0].Str("pointer"));
        Assert.Equal("accepted", items[1].Str("outcome"));
    }

    [Fact]
    public async Task OptOutOfWhatsApp_GoesToTheNextChannel()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        var chat = TestData.ChatId();
        await PutCustomerAsync(client, "c-102", new { phone, telegramChatId = chat, optOuts = new[] { new { channel = "whatsapp" } } });

        var id = await client.SendAsync(new { type = "card.transaction", customer = new { id = "c-102" } });

        var n = await client.WaitForStatusAsync(id, "delivered");
        Assert.Equal("telegram", n.Str("channel"));
        Assert.DoesNotContain(n.Attempts(), a => a.Str("channel") == "whatsapp");
        Assert.Empty(await client.SandboxMessagesAsync("whatsapp", phone));
        Assert.Single(await client.SandboxMessagesAsync("telegram", chat));
    }

    [Fact]
    public async Task PreferredChannel_GoesFirst_AndOptOutOfEverything_IsStoredSuppressed()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        await PutCustomerAsync(client, "c-103", new { phone, preferredChannel = "sms", optOuts = new[] { new { type = "service.news" } } });

        var id = await client.SendAsync(new { type = "card.transaction", customer = new { id = "c-103" } });
        Assert.Equal("sms", (await client.WaitForStatusAsync(id, "delivered")).Str("channel"));

        // Opted out of every channel for this type: accepted (the bank learns what happened), never sent.
        var news = await client.SendAsync(new { type = "service.news", customer = new { id = "c-103" } });
        var suppressed = await client.GetNotificationAsync(news);
        Assert.Equal("suppressed", suppressed.Str("status"));
        Assert.Empty(suppressed.Attempts());
        Assert.Single(await client.SandboxMessagesAsync(to: phone));
    }

    [Fact]
    public async Task QuietHours_NormalMessageWaits_FraudAlertGoesOut()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        var now = TimeProvider.System.GetUtcNow();
        await PutCustomerAsync(client, "night-owl", new
        {
            phone,
            timeZone = "Etc/UTC",
            quietHours = new { start = now.AddHours(-1).ToString("HH:mm", CultureInfo.InvariantCulture), end = now.AddHours(2).ToString("HH:mm", CultureInfo.InvariantCulture) },
        });

        var news = await client.SendAsync(new { type = "service.news", customer = new { id = "night-owl" }, data = new { text = "Our new app" } });
        var alert = await client.SendAsync(new { type = "fraud.alert", customer = new { id = "night-owl" }, data = new { text = "Was this you?" } });

        await client.WaitForStatusAsync(alert, "delivered");
        // Held without an attempt: looked at by a worker (routed), nothing sent.
        var held = await TestData.EventuallyAsync(() => client.GetNotificationAsync(news), n => n.Str("status") == "routed", TimeSpan.FromSeconds(30), "the news to be held");
        Assert.Empty(held.Attempts());
        var received = Assert.Single(await client.SandboxMessagesAsync("whatsapp", phone));
        Assert.Equal("Was this you?", received.Str("text"));
    }

    [Fact]
    public async Task Template_IsRenderedInTheCustomersLanguage()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var chat = TestData.ChatId();
        await PutCustomerAsync(client, "ana", new { telegramChatId = chat, language = "pt-BR", attributes = new { name = "Ana" } });
        await SaveTemplateAsync(client, new { name = "card.transaction", channel = "telegram", body = "Purchase of {{ data.amount | money: data.currency }}" });
        await SaveTemplateAsync(client, new
        {
            name = "card.transaction", channel = "telegram", language = "pt",
            body = "Olá {{ customer.name }}, compra de {{ data.amount | money: data.currency }} em {{ data.merchant }}, cartão {{ data.card | mask_card }}",
        });

        var id = await client.SendAsync(new
        {
            type = "card.transaction", customer = new { id = "ana" },
            data = new { amount = 1234.5, currency = "BRL", merchant = "Loja", card = "4242424242424242" },
        });

        await client.WaitForStatusAsync(id, "delivered");
        var received = Assert.Single(await client.SandboxMessagesAsync("telegram", chat));
        Assert.Equal("Olá Ana, compra de R$ 1.234,50 em Loja, cartão **** 4242", received.Str("text"));
    }

    [Fact]
    public async Task WhatsAppTemplate_IsSentAsAnApprovedTemplateMessage()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        await PutCustomerAsync(client, "bia", new { phone, language = "pt-BR" });
        await SaveTemplateAsync(client, new
        {
            name = "card.transaction", channel = "whatsapp", body = "Compra de {{ data.amount }}",
            whatsApp = new { name = "card_purchase", language = "pt_BR", parameters = new[] { "data.amount | money: data.currency", "data.merchant" } },
        });

        var id = await client.SendAsync(new { type = "card.transaction", customer = new { id = "bia" }, data = new { amount = 10, currency = "BRL", merchant = "Loja" } });

        Assert.Equal("whatsapp", (await client.WaitForStatusAsync(id, "delivered")).Str("channel"));
        var received = Assert.Single(await client.SandboxMessagesAsync("whatsapp", phone));
        var template = received!["template"]!;
        Assert.Equal("card_purchase", template.Str("name"));
        Assert.Equal(["R$ 10,00", "Loja"], template["parameters"]!.AsArray().Select(p => p!.GetValue<string>()));
    }
}
