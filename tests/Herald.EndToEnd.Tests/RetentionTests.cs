using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Issue #17, retention: a tenant's admin (or the system key) sets how long its delivery records are kept; the purge
/// on the delivering node deletes final notifications past it and keeps younger ones, on both backends. Time passes
/// by moving the host's clock.
/// </summary>
public sealed class RetentionTests(PostgresFixture postgres)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Settings_AreValidated_AndScopedToTheTenant(string backend)
    {
        using var folder = new TempFolder();
        await using var host = await StartAsync(backend, folder, new ShiftedTimeProvider());
        var (tenant, client) = await host.CreateTenantAsync();
        var (other, _) = await host.CreateTenantAsync("Other Bank");

        var initial = await client.GetFromJsonAsync<JsonObject>("/v1/settings/retention");
        Assert.Null(initial!["days"]);
        Assert.Equal(90, initial["effectiveDays"]!.GetValue<int>());

        foreach (var (body, pointer) in new[] { ("{\"days\":0}", "/days"), ("{\"days\":3651}", "/days"), ("{\"days\":\"30\"}", "/days"), ("{\"days\":30,\"colour\":1}", "/colour"), ("{}", "/days") })
        {
            using var bad = await client.PutAsync("/v1/settings/retention", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("application/problem+json", bad.Content.Headers.ContentType!.MediaType);
            Assert.Contains((await bad.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsArray(), e => e!["pointer"]!.GetValue<string>() == pointer);
        }

        Assert.Null((await client.GetFromJsonAsync<JsonObject>("/v1/settings/retention"))!["days"]);
        using (var set = await client.PutAsJsonAsync("/v1/settings/retention", new { days = 30 }))
        {
            Assert.Equal(30, (await set.Content.ReadFromJsonAsync<JsonObject>())!["effectiveDays"]!.GetValue<int>());
        }

        // The system key reads and sets any tenant's; a tenant's key cannot reach the admin path of another.
        Assert.Equal(30, (await host.Admin.GetFromJsonAsync<JsonObject>($"/v1/admin/tenants/{tenant}/retention"))!["days"]!.GetValue<int>());
        Assert.Null((await host.Admin.GetFromJsonAsync<JsonObject>($"/v1/admin/tenants/{other}/retention"))!["days"]);
        using (var forbidden = await client.PutAsJsonAsync($"/v1/admin/tenants/{other}/retention", new { days = 1 }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        }

        Assert.Null((await host.Admin.GetFromJsonAsync<JsonObject>($"/v1/admin/tenants/{other}/retention"))!["days"]);
        using var unknown = await host.Admin.GetAsync($"/v1/admin/tenants/{Guid.NewGuid()}/retention");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Purge_DeletesFinalNotificationsPastTheTenantsRetention_AndKeepsYoungerOnes(string backend)
    {
        using var folder = new TempFolder();
        var clock = new ShiftedTimeProvider();
        await using var host = await StartAsync(backend, folder, clock);
        var (_, client) = await host.CreateTenantAsync();
        var (_, otherClient) = await host.CreateTenantAsync("Other Bank");
        using (var set = await client.PutAsJsonAsync("/v1/settings/retention", new { days = 1 }))
        {
            set.EnsureSuccessStatusCode();
        }

        var old = await SendDeliveredAsync(client);
        var othersOld = await SendDeliveredAsync(otherClient);

        clock.Advance(TimeSpan.FromDays(2));
        var young = await SendDeliveredAsync(client);

        // The purge runs every 200 ms here: the old notification and its attempts go; the other tenant keeps its
        // default 90 days; the young one stays.
        await TestData.EventuallyAsync(
            async () => (await client.GetAsync($"/v1/notifications/{old}")).StatusCode, s => s == HttpStatusCode.NotFound, Deadline, "the old notification to be purged");
        Assert.Equal("delivered", (await client.GetNotificationAsync(young))["status"]!.GetValue<string>());
        Assert.Equal("delivered", (await otherClient.GetNotificationAsync(othersOld))["status"]!.GetValue<string>());
        var listed = (await client.GetFromJsonAsync<JsonObject>("/v1/notifications?limit=10"))!["items"]!.AsArray();
        Assert.Equal([young.ToString()], listed.Select(n => n!["id"]!.GetValue<string>()));
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Purge_ShortensTheAuditTrailPastItsOwnRetention_WhichStillVerifies(string backend)
    {
        using var folder = new TempFolder();
        var clock = new ShiftedTimeProvider();
        await using var host = await StartAsync(backend, folder, clock);
        var (_, client) = await host.CreateTenantAsync();
        foreach (var days in new[] { 30, 60 })
        {
            using var set = await client.PutAsJsonAsync("/v1/settings/retention", new { days });
            set.EnsureSuccessStatusCode();
        }

        var before = (await client.GetFromJsonAsync<JsonObject>("/v1/audit"))!["items"]!.AsArray();
        Assert.True(before.Count >= 2, before.ToJsonString());

        // 400 days is the default audit retention; a chain is shortened once its oldest entry is a day past it.
        clock.Advance(TimeSpan.FromDays(402));
        var after = await TestData.EventuallyAsync(
            async () => (await client.GetFromJsonAsync<JsonObject>("/v1/audit"))!["items"]!.AsArray(),
            items => items.Any(e => e!["action"]!.GetValue<string>() == "audit.purge"), Deadline, "the audit purge");

        Assert.Equal(["audit.purge"], after.Select(e => e!["action"]!.GetValue<string>()));
        var verify = (await client.GetFromJsonAsync<JsonObject>("/v1/audit/verify"))!;
        Assert.True(verify["ok"]!.GetValue<bool>(), verify.ToJsonString());
        Assert.Equal(before.Count, verify["purgedThroughSeq"]!.GetValue<long>());
    }

    private static async Task<Guid> SendDeliveredAsync(HttpClient client)
    {
        var id = await client.SendAsync(new { type = "card.transaction", channels = new[] { "telegram" }, customer = new { telegramChatId = "5150" }, data = new { text = "Paid" } });
        await client.WaitForStatusAsync(id, "delivered", Deadline);
        return id;
    }

    private async Task<HeraldHost> StartAsync(string backend, TempFolder folder, ShiftedTimeProvider clock)
    {
        var settings = backend == "postgres"
            ? HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_retention_" + Guid.NewGuid().ToString("N")[..8]))
            : HeraldHost.SqliteSettings(folder.Path);
        settings["Herald:Retention:Interval"] = "00:00:00.200";
        settings["Herald:Retention:BatchPause"] = "00:00:00";
        return await HeraldHost.StartAsync(HeraldRole.All, settings, configure: builder => builder.Services.AddSingleton<TimeProvider>(clock));
    }
}
