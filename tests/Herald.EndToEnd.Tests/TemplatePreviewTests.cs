using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// <c>POST /v1/templates/preview</c> (the console's live preview) over HTTP on a real host: a template, saved or not,
/// rendered with sample data and customer fields as delivery renders it, with each part's size against its channel's
/// limit; located errors for a bad template or sample; the limits delivery enforces (the render-time cap, the exact SMS
/// segment count of a Unicode text) answered as 422 problems; nothing stored, and a read-only key may preview.
/// </summary>
public sealed class TemplatePreviewTests
{
    [Fact]
    public async Task Preview_RendersWithSampleDataAndCustomer_ReportsEachPartAgainstItsLimit_StoresNothing()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (tenantId, admin) = await host.CreateTenantAsync();

        var sms = await PreviewOkAsync(admin, new
        {
            template = new { name = "card.transaction", channel = "sms", body = "Hi {{ customer.name }}, {{ data.amount | money: data.currency }} at {{ data.merchant }} ({{ type }})." },
            type = "card.transaction",
            data = new { amount = 12.5, currency = "EUR", merchant = "Shop" },
            customer = new Dictionary<string, string> { ["name"] = "Ana" },
        });
        var text = sms["text"]!.GetValue<string>();
        Assert.StartsWith("Hi Ana, ", text, StringComparison.Ordinal);
        Assert.EndsWith(" at Shop (card.transaction).", text, StringComparison.Ordinal);
        var body = Assert.Single(sms["parts"]!.AsArray())!;
        Assert.Equal("body", body.Str("part"));
        Assert.Equal(text.Length, body["used"]!.GetValue<int>());
        Assert.Equal(1530, body["max"]!.GetValue<int>());
        Assert.Equal(1, body["segments"]!.GetValue<int>());

        // Email: the subject is its own part with its own limit; the HTML part encodes the data it writes.
        var email = await PreviewOkAsync(admin, new
        {
            template = new { name = "statement", channel = "email", language = "en", subject = "Statement for {{ data.month }}", body = "See {{ data.month }}.", html = "<p>{{ data.month }}</p>" },
            data = new { month = "<b>May</b>" },
        });
        Assert.True(email["subject"] is not null, email.ToJsonString());
        Assert.Equal("Statement for <b>May</b>", email["subject"]!.GetValue<string>());
        Assert.Equal("<p>&lt;b&gt;May&lt;/b&gt;</p>", email["html"]!.GetValue<string>());
        Assert.Equal(["body", "subject", "html"], email["parts"]!.AsArray().Select(p => p.Str("part")));
        Assert.Equal(998, email["parts"]![1]!["max"]!.GetValue<int>());

        // Push counts UTF-8 bytes.
        var push = await PreviewOkAsync(admin, new { template = new { name = "p", channel = "push", body = "€{{ data.x }}" }, data = new { x = "1" } });
        Assert.Equal(4, push["parts"]![0]!["used"]!.GetValue<int>());

        // A key that may only read previews too (it stores nothing).
        using var created = await host.Admin.PostAsJsonAsync($"/v1/admin/tenants/{tenantId}/keys", new { roles = new[] { "read" } });
        using var reader = host.Client((await created.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>());
        await PreviewOkAsync(reader, new { template = new { name = "x", channel = "telegram", body = "ok" } });

        Assert.Empty((await admin.GetFromJsonAsync<JsonArray>("/v1/templates"))!);
    }

    [Fact]
    public async Task BadTemplateOrSample_GetsLocatedProblems_AndLimitsAre422AsDeliveryWouldFail()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, admin) = await host.CreateTenantAsync();

        // Liquid syntax, located in the template's part with line and column; a field the channel has no place for.
        var syntax = await ProblemAsync(admin, new { template = new { name = "a", channel = "sms", body = "Hi\n{% if data.x %}x" } }, HttpStatusCode.BadRequest);
        var error = Assert.Single(syntax["errors"]!.AsArray())!;
        Assert.Equal("/template/body", error.Str("pointer"));
        Assert.Contains("line 2", error.Str("detail"), StringComparison.Ordinal);
        var subject = await ProblemAsync(admin, new { template = new { name = "a", channel = "sms", subject = "s", body = "b" } }, HttpStatusCode.BadRequest);
        Assert.Equal("/template/subject", subject["errors"]![0]!.Str("pointer"));

        // No template, data that is not an object, an unknown field.
        Assert.Equal("/template", (await ProblemAsync(admin, new { data = new { } }, HttpStatusCode.BadRequest))["errors"]![0]!.Str("pointer"));
        Assert.Equal("/data", (await ProblemAsync(admin, new { template = new { name = "a", channel = "sms", body = "b" }, data = 5 }, HttpStatusCode.BadRequest))["errors"]![0]!.Str("pointer"));
        Assert.Equal("/colour", (await ProblemAsync(admin, new { template = new { name = "a", channel = "sms", body = "b" }, colour = 1 }, HttpStatusCode.BadRequest))["errors"]![0]!.Str("pointer"));

        // Over the render-time cap with this sample's data: what delivery would fail the attempt with.
        var long1 = await ProblemAsync(admin, new
        {
            template = new { name = "a", channel = "sms", body = "{% for i in (1..20) %}{{ data.x }}{% endfor %}" },
            data = new { x = new string('a', 100) },
        }, HttpStatusCode.UnprocessableEntity);
        Assert.EndsWith("/template-too-large", long1.Str("type"), StringComparison.Ordinal);
        Assert.Equal("/template/body", long1["errors"]![0]!.Str("pointer"));

        // A Unicode text: delivery's SMS limit is 10 segments, of 67 UCS-2 characters when the text is not GSM.
        var unicode = await ProblemAsync(admin, new { template = new { name = "a", channel = "sms", body = "{{ data.x }}" }, data = new { x = new string('Ж', 700) } },
            HttpStatusCode.UnprocessableEntity);
        Assert.Equal("/template/body", unicode["errors"]![0]!.Str("pointer"));
        Assert.Contains("SMS segments", unicode["errors"]![0]!.Str("detail"), StringComparison.Ordinal);

        Assert.Empty((await admin.GetFromJsonAsync<JsonArray>("/v1/templates"))!);
    }

    private static async Task<JsonObject> PreviewOkAsync(HttpClient client, object request)
    {
        using var response = await client.PostAsJsonAsync("/v1/templates/preview", request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    private static async Task<JsonObject> ProblemAsync(HttpClient client, object request, HttpStatusCode expected)
    {
        using var response = await client.PostAsJsonAsync("/v1/templates/preview", request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(body)!.AsObject();
    }
}
