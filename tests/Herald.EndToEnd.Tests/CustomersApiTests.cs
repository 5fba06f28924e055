using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;

namespace Herald.EndToEnd.Tests;

/// <summary>/v1/customers and /v1/templates: validation, roles, paging and tenant isolation (PostgreSQL host).</summary>
public sealed class CustomersApiTests(PipelineHostFixture fixture) : IClassFixture<PipelineHostFixture>
{
    private HeraldHost Host => fixture.Host;

    private static async Task<JsonObject> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(body)!.AsObject();
    }

    private static string[] Pointers(JsonObject problem) => [.. problem["errors"]!.AsArray().Select(e => e.Str("pointer"))];

    [Fact]
    public async Task Put_Get_Patch_Delete_RoundTrip()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();

        using var created = await client.PutAsJsonAsync("/v1/customers/c-1", new
        {
            phone, email = "ana@example.com", language = "de", timeZone = "Europe/Berlin", preferredChannel = "telegram",
            optOuts = new object[] { new { channel = "sms" }, new { type = "service.news", channel = "email" } },
            quietHours = new { start = "22:00", end = "07:00" }, attributes = new { segment = "premium" },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        var got = (await client.GetFromJsonAsync<JsonObject>("/v1/customers/c-1"))!;
        Assert.Equal(phone, got.Str("phone"));
        Assert.Equal("Europe/Berlin", got.Str("timeZone"));
        Assert.Equal("22:00", got["quietHours"].Str("start"));
        Assert.Equal("premium", got["attributes"].Str("segment"));
        Assert.Equal(2, got["optOuts"]!.AsArray().Count);

        using var patch = new HttpRequestMessage(HttpMethod.Patch, "/v1/customers/c-1")
        {
            Content = new StringContent("""{"quietHours":null,"preferredChannel":"sms","language":"pt-BR"}""", Encoding.UTF8, "application/merge-patch+json"),
        };
        using var patched = await client.SendAsync(patch);
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var after = (await patched.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Null(after["quietHours"]);
        Assert.Equal("sms", after.Str("preferredChannel"));
        Assert.Equal("pt-BR", after.Str("language"));
        Assert.Equal(phone, after.Str("phone"));
        Assert.Equal("premium", after["attributes"].Str("segment"));

        using var replaced = await client.PutAsJsonAsync("/v1/customers/c-1", new { email = "new@example.com" });
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.Null((await replaced.Content.ReadFromJsonAsync<JsonObject>())!["phone"]);

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("/v1/customers/c-1")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v1/customers/c-1")).StatusCode);
        await ProblemAsync(await client.DeleteAsync("/v1/customers/c-1"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Put_InvalidFields_AreLocatedAndNothingIsStored()
    {
        var (_, client) = await Host.CreateTenantAsync();

        using var response = await client.PutAsJsonAsync("/v1/customers/c-2", new
        {
            phone = "0151 1234", email = "nope", telegramChatId = "abc", language = "Deutsch!", timeZone = "Mars/Olympus",
            optOuts = new object[] { new { }, new { type = "Bad Type" } },
            quietHours = new { start = "25:00", end = "07:00" }, attributes = new Dictionary<string, string> { ["1bad"] = "x" },
        });

        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(
            new[] { "/phone", "/telegramChatId", "/email", "/language", "/timeZone", "/optOuts/0", "/optOuts/1/type", "/quietHours/start", "/attributes/1bad" }.Order(),
            Pointers(problem).Order());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v1/customers/c-2")).StatusCode);
    }

    [Fact]
    public async Task Put_QuietHoursWithoutTimeZone_AndUnknownField_AreRejected()
    {
        var (_, client) = await Host.CreateTenantAsync();

        var noZone = await ProblemAsync(await client.PutAsJsonAsync("/v1/customers/c-3", new { quietHours = new { start = "22:00", end = "07:00" } }), HttpStatusCode.BadRequest);
        Assert.Equal(["/timeZone"], Pointers(noZone));

        var unknown = await ProblemAsync(await client.PutAsJsonAsync("/v1/customers/c-3", new { phonee = "+4915112345678" }), HttpStatusCode.BadRequest);
        Assert.Equal(["/phonee"], Pointers(unknown));
    }

    [Fact]
    public async Task List_PagesWithACursor()
    {
        var (_, client) = await Host.CreateTenantAsync();
        foreach (var id in new[] { "c", "a", "e", "b", "d" })
        {
            (await client.PutAsJsonAsync($"/v1/customers/{id}", new { email = $"{id}@example.com" })).EnsureSuccessStatusCode();
        }

        var seen = new List<string>();
        string? after = null;
        do
        {
            var page = (await client.GetFromJsonAsync<JsonObject>("/v1/customers?limit=2" + (after is null ? "" : "&after=" + after)))!;
            seen.AddRange(page["items"]!.AsArray().Select(i => i.Str("id")));
            after = page["next"]?.GetValue<string>();
        }
        while (after is not null);

        Assert.Equal(["a", "b", "c", "d", "e"], seen);
        await ProblemAsync(await client.GetAsync("/v1/customers?limit=0"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Customers_AreInvisibleToOtherTenants()
    {
        var (_, bankA) = await Host.CreateTenantAsync("A");
        var (_, bankB) = await Host.CreateTenantAsync("B");
        var phone = TestData.Phone();
        (await bankA.PutAsJsonAsync("/v1/customers/shared-id", new { phone })).EnsureSuccessStatusCode();

        Assert.Equal(HttpStatusCode.NotFound, (await bankB.GetAsync("/v1/customers/shared-id")).StatusCode);
        Assert.Empty((await bankB.GetFromJsonAsync<JsonObject>("/v1/customers"))!["items"]!.AsArray());
        Assert.Equal(HttpStatusCode.NotFound, (await bankB.DeleteAsync("/v1/customers/shared-id")).StatusCode);
        // B cannot send to A's customer by id: for B it is unknown.
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await bankB.PostAsJsonAsync("/v1/notifications", new { type = "otp", customer = new { id = "shared-id" } })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await bankA.GetAsync("/v1/customers/shared-id")).StatusCode);
    }

    [Fact]
    public async Task Writes_NeedTheAdminRole()
    {
        var (tenantId, _) = await Host.CreateTenantAsync();
        var key = await Host.Admin.PostAsJsonAsync($"/v1/admin/tenants/{tenantId}/keys", new { roles = new[] { "send", "read" } });
        using var sender = Host.Client((await key.Content.ReadFromJsonAsync<JsonObject>())!.Str("key"));

        Assert.Equal(HttpStatusCode.Forbidden, (await sender.PutAsJsonAsync("/v1/customers/x", new { email = "x@example.com" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await sender.PostAsJsonAsync("/v1/templates", new { name = "otp", channel = "sms", body = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await sender.GetAsync("/v1/customers")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Host.Client().GetAsync("/v1/customers")).StatusCode);
    }

    [Fact]
    public async Task Templates_SaveValidatesLiquidWithLineAndColumn()
    {
        var (_, client) = await Host.CreateTenantAsync();

        var syntax = await ProblemAsync(await client.PostAsJsonAsync("/v1/templates", new { name = "otp", channel = "sms", body = "Code\n{% if data.code %} {{ data.code }}" }), HttpStatusCode.BadRequest);
        var error = Assert.Single(syntax["errors"]!.AsArray());
        Assert.Equal("/body", error.Str("pointer"));
        Assert.Contains("line 2, column", error.Str("detail"), StringComparison.Ordinal);

        var misplaced = await ProblemAsync(await client.PostAsJsonAsync("/v1/templates", new
        {
            name = "otp", channel = "sms", subject = "Hi", body = "{{ data.code | nope }}",
            whatsApp = new { name = "Bad Name", language = "en_US", parameters = new[] { "data.code" } },
        }), HttpStatusCode.BadRequest);
        Assert.Equal(new[] { "/subject", "/whatsApp", "/whatsApp/name" }.Order(), Pointers(misplaced).Order());
        Assert.Empty((await client.GetFromJsonAsync<JsonArray>("/v1/templates"))!);
    }

    [Fact]
    public async Task EmailTemplate_WithAnHtmlPart_IsDeliveredAsTheHtmlPart_WithTheDataEncoded()
    {
        var (_, client) = await Host.CreateTenantAsync();
        using (var misplaced = await client.PostAsJsonAsync("/v1/templates", new { name = "card.transaction", channel = "sms", body = "x", html = "<p>x</p>" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, misplaced.StatusCode);
            Assert.Equal(["/html"], Pointers((await misplaced.Content.ReadFromJsonAsync<JsonObject>())!));
        }

        using (var saved = await client.PostAsJsonAsync("/v1/templates", new
        {
            name = "card.transaction", channel = "email", subject = "Card payment", body = "You paid at {{ data.merchant }}.",
            html = "<h1>Card payment</h1><p>You paid at <b>{{ data.merchant }}</b>.</p>",
        }))
        {
            Assert.Equal(HttpStatusCode.Created, saved.StatusCode);
            Assert.StartsWith("<h1>", (await saved.Content.ReadFromJsonAsync<JsonObject>())!.Str("html"), StringComparison.Ordinal);
        }

        var email = $"ana.{Guid.NewGuid():N}@customer.example";
        var id = await client.SendAsync(new { type = "card.transaction", channels = new[] { "email" }, customer = new { email }, data = new { merchant = "<Coffee & Bar>" } });
        await client.WaitForStatusAsync(id, "delivered");

        var received = Assert.Single(await client.SandboxMessagesAsync("email", email));
        Assert.Equal("You paid at <Coffee & Bar>.", received.Str("text").Trim());
        Assert.Equal("<h1>Card payment</h1><p>You paid at <b>&lt;Coffee &amp; Bar&gt;</b>.</p>", received.Str("html").Trim());
    }

    [Fact]
    public async Task Templates_SaveAgainBumpsTheVersion_AndAreTenantScoped()
    {
        var (_, bankA) = await Host.CreateTenantAsync("A");
        var (_, bankB) = await Host.CreateTenantAsync("B");

        using var first = await bankA.PostAsJsonAsync("/v1/templates", new { name = "otp", channel = "email", language = "en", subject = "Your code", body = "Code {{ data.code }}" });
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var id = (await first.Content.ReadFromJsonAsync<JsonObject>())!.Str("id");
        using var second = await bankA.PostAsJsonAsync("/v1/templates", new { name = "otp", channel = "email", language = "en", subject = "Your code", body = "Code: {{ data.code }}" });
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var saved = (await second.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(id, saved.Str("id"));
        Assert.Equal(2, saved["version"]!.GetValue<int>());

        Assert.Equal(HttpStatusCode.NotFound, (await bankB.GetAsync($"/v1/templates/{id}")).StatusCode);
        Assert.Empty((await bankB.GetFromJsonAsync<JsonArray>("/v1/templates"))!);
        Assert.Equal(HttpStatusCode.NotFound, (await bankB.DeleteAsync($"/v1/templates/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await bankA.DeleteAsync($"/v1/templates/{id}")).StatusCode);
    }
}
