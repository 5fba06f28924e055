using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.Channels.Email;
using Herald.Channels.Providers;
using Herald.Channels.WhatsApp;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Issue #13 item 5: the sandbox records every tenant's recipients and texts and shapes every tenant's deliveries. It is
/// on by default only in the embedded demo; elsewhere it must be asked for, and then its read and control endpoints need
/// a key, while the vendor paths keep taking vendor-style credentials. Each tenant's sandbox accounts have their own
/// secrets and sender identities.
/// </summary>
public sealed class SandboxExposureTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PostgresMode_WithoutTheFlag_HasNoSandbox_AndTenantsGetNoSandboxAccounts()
    {
        var settings = HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_" + Guid.NewGuid().ToString("N")[..12]));
        settings.Remove("Herald:Sandbox:Enabled");
        settings.Remove("Herald:Sandbox:ControlKey");
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings);

        using var anonymous = host.Client();
        using var messages = await anonymous.GetAsync("/sandbox/messages", Ct);
        Assert.Equal(HttpStatusCode.NotFound, messages.StatusCode);
        using var put = await anonymous.PutAsJsonAsync("/sandbox/settings", new { latencyMs = 5000 }, Ct);
        Assert.Equal(HttpStatusCode.NotFound, put.StatusCode);
        var (_, client) = await host.CreateTenantAsync();
        Assert.Empty((await client.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!);
    }

    [Fact]
    public async Task PostgresMode_SandboxAskedFor_ControlEndpointsNeedTheKey_VendorPathsDoNot_SecretsPerTenant()
    {
        var settings = HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_" + Guid.NewGuid().ToString("N")[..12]));
        // No dedicated control key: the system admin key opens the control endpoints.
        settings.Remove("Herald:Sandbox:ControlKey");
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings);
        var (tenantA, clientA) = await host.CreateTenantAsync("Bank A");
        var (tenantB, _) = await host.CreateTenantAsync("Bank B");

        using var anonymous = host.Client();
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, "/sandbox/messages"), (HttpMethod.Delete, "/sandbox/messages"), (HttpMethod.Get, "/sandbox/settings"),
            (HttpMethod.Put, "/sandbox/settings"), (HttpMethod.Get, "/sandbox/stats"), (HttpMethod.Delete, "/sandbox/stats"),
            (HttpMethod.Get, "/sandbox/outages"), (HttpMethod.Put, "/sandbox/outages/x"), (HttpMethod.Delete, "/sandbox/outages"),
            (HttpMethod.Get, "/sandbox/smtp"), (HttpMethod.Get, "/sandbox/smpp"),
        })
        {
            foreach (var client in new[] { anonymous, clientA })
            {
                using var request = new HttpRequestMessage(method, path) { Content = method == HttpMethod.Put ? JsonContent.Create(new { latencyMs = 5000 }) : null };
                using var refused = await client.SendAsync(request, Ct);
                Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path}: {(int)refused.StatusCode}");
                Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            }
        }

        using var admin = host.Client(HeraldHost.AdminKey);
        using (var read = await admin.GetAsync("/sandbox/messages", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }

        // The vendor path takes vendor-style credentials (any bearer token), as the connectors and client libraries send.
        using (var vendor = new HttpRequestMessage(HttpMethod.Post, "/sandbox/whatsapp/v21.0/106540352242922/messages")
        {
            Content = JsonContent.Create(new { messaging_product = "whatsapp", to = "4915112345678", type = "text", text = new { body = "hi" } }),
        })
        {
            vendor.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "EAAG-any-token");
            using var sent = await anonymous.SendAsync(vendor, Ct);
            Assert.Equal(HttpStatusCode.OK, sent.StatusCode);
        }

        // Each tenant's sandbox accounts have their own secrets and sender identities.
        var directory = host.Services.GetRequiredService<ProviderDirectory>();
        var a = directory.All.Where(p => p.TenantId == tenantA).ToDictionary(p => p.Kind);
        var b = directory.All.Where(p => p.TenantId == tenantB).ToDictionary(p => p.Kind);
        Assert.NotEqual(WhatsAppSettings.Parse(a["whatsapp-cloud"].Settings).AppSecret, WhatsAppSettings.Parse(b["whatsapp-cloud"].Settings).AppSecret);
        Assert.NotEqual(WhatsAppSettings.Parse(a["whatsapp-cloud"].Settings).VerifyToken, WhatsAppSettings.Parse(b["whatsapp-cloud"].Settings).VerifyToken);
        Assert.NotEqual(SmtpSettings.Parse(a["smtp"].Settings).BounceToken, SmtpSettings.Parse(b["smtp"].Settings).BounceToken);
        Assert.DoesNotContain("sandbox-app-secret", a["whatsapp-cloud"].Settings, StringComparison.Ordinal);
        foreach (var kind in a.Keys)
        {
            Assert.NotNull(a[kind].SenderIdentity ?? (kind == "smtp" ? "" : null));
            Assert.NotEqual(a[kind].SenderIdentity ?? "a", b[kind].SenderIdentity ?? "b");
        }

        // And the sandbox signs each tenant's receipts with that tenant's own secret: delivered on WhatsApp.
        var phone = TestData.Phone();
        var id = await clientA.SendAsync(new { type = "service.news", channels = new[] { "whatsapp" }, customer = new { phone }, data = new { text = "Hi" } });
        Assert.Equal("whatsapp", (await clientA.WaitForStatusAsync(id, "delivered")).Str("channel"));
    }

    [Fact]
    public async Task PostgresMode_SandboxAskedFor_WithoutAnyKey_RefusesToStart()
    {
        var settings = HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_" + Guid.NewGuid().ToString("N")[..12]));
        settings.Remove("Herald:Sandbox:ControlKey");
        settings.Remove("Herald:AdminKey");

        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () => await HeraldHost.StartAsync(HeraldRole.All, settings));

        Assert.Contains("Herald:Sandbox:ControlKey", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EmbeddedDemo_SandboxOnByDefault_ReadableOnItsOwnWithoutAKey()
    {
        using var folder = new TempFolder();
        var settings = HeraldHost.SqliteSettings(folder.Path);
        settings.Remove("Herald:Demo:Enabled");
        settings.Remove("Herald:Sandbox:Enabled");
        settings.Remove("Herald:Sandbox:ControlKey");
        // Free ports instead of the demo's fixed 2525/2775, which another test or a developer's demo may hold.
        settings["Herald:Sandbox:SmtpPort"] = "0";
        settings["Herald:Sandbox:SmppPort"] = "0";
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings);

        using var anonymous = host.Client();
        using var messages = await anonymous.GetAsync("/sandbox/messages", Ct);

        Assert.Equal(HttpStatusCode.OK, messages.StatusCode);
    }
}
