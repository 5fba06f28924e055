using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests.Console;

/// <summary>
/// The console's sign-in over HTTP against a real host: a tenant key becomes an HttpOnly, SameSite=Strict cookie that
/// reads the API with the key's own roles; writes with it need the CSRF header; a tampered, expired or signed-out
/// cookie reads nothing; a session made on one node is good on another node of the cluster; the console's files
/// are served with a strict Content-Security-Policy.
/// </summary>
public sealed class ConsoleSessionTests(PostgresFixture postgres)
{
    [Fact]
    public async Task SignIn_SetsAnHttpOnlyStrictCookie_ThatReadsTheApi_AndWritesOnlyWithTheCsrfHeader()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (tenantId, tenant) = await host.CreateTenantAsync();
        using var browser = new Browser(host.BaseUrl);

        using var signIn = await browser.Client.PostAsJsonAsync("/console/session", new { key = tenant.DefaultRequestHeaders.Authorization!.Parameter });
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        var setCookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("herald_console=", setCookie, StringComparison.Ordinal);
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", setCookie, StringComparison.OrdinalIgnoreCase);
        var session = (await signIn.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(tenantId, session["tenantId"]!.GetValue<Guid>());
        var csrf = session["csrf"]!.GetValue<string>();

        // Reads: the cookie alone. The session endpoint hands the CSRF token back after a page reload.
        Assert.Equal(HttpStatusCode.OK, (await browser.Client.GetAsync("/v1/notifications")).StatusCode);
        Assert.Equal(csrf, (await browser.Client.GetFromJsonAsync<JsonObject>("/console/session"))!["csrf"]!.GetValue<string>());

        // Writes: refused without the header or with a wrong one (and nothing stored), accepted with it.
        var body = new { type = "service.news", externalId = "csrf-1", customer = new { phone = TestData.Phone() } };
        using (var bare = await browser.Client.PostAsJsonAsync("/v1/notifications", body))
        {
            Assert.Equal(HttpStatusCode.Forbidden, bare.StatusCode);
            Assert.Contains("csrf", await bare.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var wrong = new HttpRequestMessage(HttpMethod.Post, "/v1/notifications") { Content = JsonContent.Create(body) })
        {
            wrong.Headers.Add("X-Herald-CSRF", csrf[..^1] + (csrf[^1] == 'A' ? 'B' : 'A'));
            Assert.Equal(HttpStatusCode.Forbidden, (await browser.Client.SendAsync(wrong)).StatusCode);
        }

        Assert.Empty((await tenant.GetFromJsonAsync<JsonObject>("/v1/notifications?externalId=csrf-1"))!["items"]!.AsArray());
        using (var right = new HttpRequestMessage(HttpMethod.Post, "/v1/notifications") { Content = JsonContent.Create(body) })
        {
            right.Headers.Add("X-Herald-CSRF", csrf);
            Assert.Equal(HttpStatusCode.Accepted, (await browser.Client.SendAsync(right)).StatusCode);
        }

        // Signed out: the cookie is gone and the API answers 401 again.
        using var signOut = await browser.Client.DeleteAsync("/console/session");
        Assert.Equal(HttpStatusCode.NoContent, signOut.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.Client.GetAsync("/v1/notifications")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.Client.GetAsync("/console/session")).StatusCode);
    }

    [Fact]
    public async Task SignIn_BehindATlsProxy_SetsASecureCookie()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, tenant) = await host.CreateTenantAsync();
        using var client = host.Client();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/console/session")
        {
            Content = JsonContent.Create(new { key = tenant.DefaultRequestHeaders.Authorization!.Parameter }),
        };
        // As the shipped nginx forwards a request whose TLS it ended (deploy/nginx).
        request.Headers.Add("X-Forwarded-Proto", "https");

        using var signIn = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        Assert.Contains("secure", Assert.Single(signIn.Headers.GetValues("Set-Cookie")), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task SignIn_WithAWrongKey_TheAdminKey_OrNoKey_IsRefused_AndSetsNoCookie()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        using var browser = new Browser(host.BaseUrl);

        using var unknown = await browser.Client.PostAsJsonAsync("/console/session", new { key = "hk_unknown" });
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.False(unknown.Headers.Contains("Set-Cookie"));

        using var admin = await browser.Client.PostAsJsonAsync("/console/session", new { key = HeraldHost.AdminKey });
        Assert.Equal(HttpStatusCode.BadRequest, admin.StatusCode);
        Assert.Equal("/key", (await admin.Content.ReadFromJsonAsync<JsonObject>())!["errors"]![0]!["pointer"]!.GetValue<string>());

        using var empty = await browser.Client.PostAsync("/console/session", new StringContent("not json", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Equal("application/problem+json", empty.Content.Headers.ContentType!.MediaType);
        Assert.False(empty.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task TamperedOrExpiredCookie_ReadsNothing()
    {
        using var folder = new TempFolder();
        var clock = new ShiftedTimeProvider();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path),
            configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var (_, tenant) = await host.CreateTenantAsync();
        using var browser = new Browser(host.BaseUrl);
        (await browser.Client.PostAsJsonAsync("/console/session", new { key = tenant.DefaultRequestHeaders.Authorization!.Parameter })).EnsureSuccessStatusCode();
        var cookie = browser.Cookies.GetCookies(new Uri(host.BaseUrl)).Single(c => c.Name == "herald_console").Value;

        var tampered = Uri.UnescapeDataString(cookie);
        tampered = tampered[..^4] + (tampered[^4] == 'A' ? 'B' : 'A') + tampered[^3..];
        using var forged = host.Client();
        forged.DefaultRequestHeaders.Add("Cookie", "herald_console=" + Uri.EscapeDataString(tampered));
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.GetAsync("/v1/notifications")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await browser.Client.GetAsync("/v1/notifications")).StatusCode);
        clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        using var expired = await browser.Client.GetAsync("/v1/notifications");
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Contains("Sign in again", await expired.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SessionMadeOnOneNode_IsGoodOnAnother()
    {
        var settings = HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("console_" + Guid.NewGuid().ToString("N")[..12]));
        await using var first = await HeraldHost.StartAsync(HeraldRole.Api, settings);
        await using var second = await HeraldHost.StartAsync(HeraldRole.Api, settings);
        var (_, tenant) = await first.CreateTenantAsync();
        using var browser = new Browser(first.BaseUrl);
        (await browser.Client.PostAsJsonAsync("/console/session", new { key = tenant.DefaultRequestHeaders.Authorization!.Parameter })).EnsureSuccessStatusCode();
        var cookie = browser.Cookies.GetCookies(new Uri(first.BaseUrl)).Single(c => c.Name == "herald_console").Value;

        using var other = second.Client();
        other.DefaultRequestHeaders.Add("Cookie", "herald_console=" + cookie);
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/v1/notifications")).StatusCode);
    }

    [Fact]
    public async Task ConsoleFiles_AreServedUnderAStrictPolicy_HashedAssetsCachedForAYear_AndTheRootRedirects()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(host.BaseUrl) };

        using var root = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, root.StatusCode);
        Assert.Equal("/console/", root.Headers.Location!.OriginalString);
        Assert.Equal("/console/", (await client.GetAsync("/console")).Headers.Location!.OriginalString);

        foreach (var page in new[] { "/console/", "/console/notifications/01a24f37-3ef2-7afa-8151-6e2c1b5d325b" })
        {
            using var response = await client.GetAsync(page);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
            var policy = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
            Assert.Contains("script-src 'self';", policy, StringComparison.Ordinal);
            Assert.DoesNotContain("unsafe-inline", policy, StringComparison.Ordinal);
            Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
            Assert.Equal("no-cache", response.Headers.CacheControl!.ToString());
            var html = await response.Content.ReadAsStringAsync();
            // Every script is a file of the same origin: none inline, none from elsewhere.
            Assert.DoesNotMatch(@"<script(?![^>]*\bsrc=""/console/assets/)", html);
        }

        var script = System.Text.RegularExpressions.Regex.Match(await client.GetStringAsync("/console/"), @"/console/assets/[^""]+\.js").Value;
        using var asset = await client.GetAsync(script);
        Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
        Assert.Equal("public, max-age=31536000, immutable", asset.Headers.CacheControl!.ToString());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/console/assets/missing-0000.js")).StatusCode);
    }

    /// <summary>A client that keeps cookies, as a browser does.</summary>
    private sealed class Browser : IDisposable
    {
        public Browser(string baseUrl)
        {
            Client = new HttpClient(new HttpClientHandler { CookieContainer = Cookies }) { BaseAddress = new Uri(baseUrl) };
        }

        public System.Net.CookieContainer Cookies { get; } = new();

        public HttpClient Client { get; }

        public void Dispose() => Client.Dispose();
    }
}
