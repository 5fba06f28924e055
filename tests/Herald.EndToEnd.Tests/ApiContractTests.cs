using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;

namespace Herald.EndToEnd.Tests;

/// <summary>Authentication, tenant isolation, validation and problem+json (SPEC §3).</summary>
public sealed class ApiContractTests(PipelineHostFixture fixture) : IClassFixture<PipelineHostFixture>
{
    private HeraldHost Host => fixture.Host;

    [Fact]
    public async Task BadInput_Gets400ProblemWithLocation_AndStoresNothing()
    {
        var (_, client) = await Host.CreateTenantAsync();

        using var response = await client.PostAsJsonAsync("/v1/notifications", new { type = "otp", customer = new { phone = "0151 1234" } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(400, problem["status"]!.GetValue<int>());
        Assert.Equal("/customer/phone", problem["errors"]![0].Str("pointer"));
        var search = (await client.GetFromJsonAsync<JsonObject>("/v1/notifications"))!;
        Assert.Empty(search["items"]!.AsArray());
    }

    [Fact]
    public async Task ABatch_RejectsEachMalformedItem_WhereItIs_AndStoresTheRest()
    {
        var (_, client) = await Host.CreateTenantAsync();
        const string valid = """{"type":"service.news","customer":{"phone":"+4915112340000"},"data":{"text":"ok"}}""";
        var body = $$$"""
            {"items": [ {{{valid}}}, 5, null, "text",
              {"type":"service.news","customer":{"phone":"+4915112340000"},"bogus":1},
              {"type":"service.news","customer":{"phone":"+4915112340000"},"priority":"urgent!"},
              {"type":"service.news","customer":{"phone":"+4915112340000"},"data":{"a":["\u0000"]}},
              {{{valid}}} ]}
            """;

        using var response = await client.PostAsync("/v1/notifications/batch", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var items = (await response.Content.ReadFromJsonAsync<JsonObject>())!["items"]!.AsArray();
        Assert.Equal(["accepted", "rejected", "rejected", "rejected", "rejected", "rejected", "rejected", "accepted"], items.Select(i => i.Str("outcome")));
        string Error(int i, string field) => items[i]!["errors"]![0].Str(field);
        Assert.All([1, 2, 3], i => Assert.Equal(($"/items/{i}", "A JSON object is required."), (Error(i, "pointer"), Error(i, "detail"))));
        Assert.Equal(("/items/4/bogus", "Unknown field."), (Error(4, "pointer"), Error(4, "detail")));
        Assert.Equal("/items/5/priority", Error(5, "pointer"));
        Assert.Equal("/items/6/data/a/0", Error(6, "pointer"));
        var search = (await client.GetFromJsonAsync<JsonObject>("/v1/notifications"))!;
        Assert.Equal(2, search["items"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("""{"items":[],"extra":1}""")]
    [InlineData("""{"items":{"type":"otp"}}""")]
    [InlineData("""{"items":[{"type":"otp"}""")]
    [InlineData("""[{"type":"otp"}]""")]
    [InlineData("""{"items":null}""")]
    public async Task AMalformedBatch_IsRefusedWhole(string body)
    {
        var (_, client) = await Host.CreateTenantAsync();

        using var response = await client.PostAsync("/v1/notifications/batch", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        // Said in the API's terms: no runtime type names.
        Assert.DoesNotContain("Herald.", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty((await client.GetFromJsonAsync<JsonObject>("/v1/notifications"))!["items"]!.AsArray());
    }

    [Theory]
    [InlineData("{\"type\":\"otp\",", "application/json", HttpStatusCode.BadRequest)]
    [InlineData("", "application/json", HttpStatusCode.BadRequest)]
    [InlineData("type=otp", "application/x-www-form-urlencoded", HttpStatusCode.UnsupportedMediaType)]
    public async Task MalformedBodies_GetProblems(string body, string contentType, HttpStatusCode expected)
    {
        var (_, client) = await Host.CreateTenantAsync();

        using var response = await client.PostAsync("/v1/notifications", new StringContent(body, Encoding.UTF8, contentType));

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Theory]
    [InlineData("/v1/notifications", "{\"type\":\"service.news\",\"customer\":{\"phone\":\"+4915112340000\"},\"data\":{\"text\":\"EU\u0093\"}}")]
    [InlineData("/v1/notifications/batch", "{\"items\":[{\"type\":\"service.news\",\"customer\":{\"phone\":\"+4915112340000\"},\"data\":{\"text\":\"EU\u0093\"}}]}")]
    public async Task InvalidUtf8InsideAString_Gets400_Not500(string path, string json)
    {
        var (_, client) = await Host.CreateTenantAsync();
        // A Latin-1 byte (0x93) where UTF-8 is required, inside a string value: found by the parser fuzz test.
        var bytes = Encoding.Latin1.GetBytes(json);
        using var content = new ByteArrayContent(bytes) { Headers = { ContentType = new("application/json") } };

        using var response = await client.PostAsync(path, content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        // Said in the API's terms: no runtime type names.
        Assert.DoesNotContain("Herald.", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty((await client.GetFromJsonAsync<JsonObject>("/v1/notifications"))!["items"]!.AsArray());
    }

    [Fact]
    public async Task OversizedBody_Gets413()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var big = new string('x', 70 * 1024);

        using var response = await client.PostAsJsonAsync("/v1/notifications", new { type = "otp", customer = new { phone = TestData.Phone() }, data = new { big } });

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task OneTenant_CannotSeeAnothersNotifications()
    {
        var (_, bankA) = await Host.CreateTenantAsync("Bank A");
        var (_, bankB) = await Host.CreateTenantAsync("Bank B");
        var id = await bankA.SendAsync(new { type = "otp", customer = new { phone = TestData.Phone() }, externalId = "secret" });

        using var get = await bankB.GetAsync($"/v1/notifications/{id}");
        using var cancel = await bankB.PostAsync($"/v1/notifications/{id}/cancel", null);
        var search = (await bankB.GetFromJsonAsync<JsonObject>("/v1/notifications?externalId=secret"))!;

        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, cancel.StatusCode);
        Assert.Empty(search["items"]!.AsArray());
        Assert.Equal(HttpStatusCode.OK, (await bankA.GetAsync($"/v1/notifications/{id}")).StatusCode);
    }

    [Fact]
    public async Task MissingOrUnknownKey_Gets401()
    {
        using var anonymous = Host.Client();
        using var unknown = Host.Client("hk_not-a-real-key");

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/notifications")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await unknown.GetAsync("/v1/notifications")).StatusCode);
    }

    [Fact]
    public async Task KeyWithoutRole_Gets403()
    {
        var (tenantId, _) = await Host.CreateTenantAsync();
        using var created = await Host.Admin.PostAsJsonAsync($"/v1/admin/tenants/{tenantId}/keys", new { roles = new[] { "read" } });
        var readOnly = Host.Client((await created.Content.ReadFromJsonAsync<JsonObject>())!.Str("key"));

        using var send = await readOnly.PostAsJsonAsync("/v1/notifications", new { type = "otp", customer = new { phone = TestData.Phone() } });
        using var createTenant = await readOnly.PostAsJsonAsync("/v1/admin/tenants", new { name = "x" });

        Assert.Equal(HttpStatusCode.Forbidden, send.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, createTenant.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await readOnly.GetAsync("/v1/notifications")).StatusCode);
    }

    [Fact]
    public async Task CreateKey_WithUnknownRole_Gets400()
    {
        var (tenantId, _) = await Host.CreateTenantAsync();

        using var response = await Host.Admin.PostAsJsonAsync($"/v1/admin/tenants/{tenantId}/keys", new { roles = new[] { "root" } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task WhatsAppCallback_WithBadSignature_IsRejected()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var providers = (await client.GetFromJsonAsync<JsonArray>("/v1/providers"))!;
        Assert.Contains(providers, p => p.Str("kind") == "whatsapp-cloud");
        var body = """{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"999"},"statuses":[]}}]}]}""";

        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        content.Headers.Add("X-Hub-Signature-256", "sha256=" + new string('0', 64));
        using var response = await Host.Client().PostAsync("/callbacks/whatsapp", content);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task WhatsAppVerificationHandshake_WithWrongToken_IsRefused()
    {
        using var response = await Host.Client().GetAsync("/callbacks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=123");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task HealthReadinessAndOpenApi_Answer()
    {
        using var client = Host.Client();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
        using var openApi = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var paths = openApi.RootElement.GetProperty("paths");
        // The document declares what each call answers, so a bank can generate its client from it.
        var send = paths.GetProperty("/v1/notifications").GetProperty("post");
        Assert.True(send.TryGetProperty("requestBody", out _), "POST /v1/notifications declares no request body.");
        Assert.Equal("#/components/schemas/AcceptedView",
            send.GetProperty("responses").GetProperty("202").GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString());
        Assert.True(send.GetProperty("responses").GetProperty("400").GetProperty("content").TryGetProperty("application/problem+json", out _));
        var sourceResponses = paths.GetProperty("/v1/sources/{id}/messages").GetProperty("post").GetProperty("responses");
        Assert.Equal("#/components/schemas/FileUploadProblem",
            sourceResponses.GetProperty("503").GetProperty("content").GetProperty("application/problem+json").GetProperty("schema").GetProperty("$ref").GetString());
        Assert.Equal("#/components/schemas/SourceIngestResult",
            sourceResponses.GetProperty("202").GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString());
        // Counters appear once something was counted: accept one notification first, then scrape.
        var (_, tenant) = await Host.CreateTenantAsync();
        await tenant.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone() } });
        var metrics = await TestData.EventuallyAsync(
            () => client.GetStringAsync("/metrics"), m => m.Contains("herald_notifications_accepted", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the accepted counter on /metrics");
        Assert.Contains("herald_notifications_accepted", metrics, StringComparison.Ordinal);
    }
}
