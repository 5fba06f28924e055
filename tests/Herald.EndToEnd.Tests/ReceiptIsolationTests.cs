using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Herald.Channels.Providers;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Issue #13 item 4, tried as an attacking tenant with its own key would: receipts cannot be taken over across tenants.
/// Every callback is bound to the provider account whose secret signed it, receipts are keyed by (account, provider
/// message id) on the direct and the parked path, and a sender identity has one owner. Runs on PostgreSQL and on the
/// embedded SQLite backend.
/// </summary>
public abstract class ReceiptIsolationTests
{
    protected abstract HeraldHost Host { get; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AnotherTenantRegisteringTheNumber_Gets409_AndTheOwnersGenuineReceiptsKeepApplying()
    {
        var (victim, attacker) = await TwoTenantsAsync();
        var number = (await SandboxAccountAsync(victim.Client, "whatsapp-cloud"))["settings"].Str("phoneNumberId");

        // The attacker registers the bank's WhatsApp number with an app secret of its own.
        using var taken = await attacker.Client.PostAsJsonAsync("/v1/providers", WhatsAppAccount("Stolen number", number, "attacker-app-secret"), Ct);
        var problem = await taken.Content.ReadAsStringAsync(Ct);
        Assert.True(taken.StatusCode == HttpStatusCode.Conflict, $"{(int)taken.StatusCode} {problem}");
        Assert.Equal("application/problem+json", taken.Content.Headers.ContentType?.MediaType);
        Assert.Equal("/settings", JsonNode.Parse(problem)!["errors"]![0].Str("pointer"));

        // Nor by a patch of an account it holds.
        var own = await CreateAsync(attacker.Client, WhatsAppAccount("Own number", UniqueNumber(), "attacker-app-secret"));
        using var patched = await attacker.Client.PatchAsJsonAsync($"/v1/providers/{own.Str("id")}", new { settings = new { phoneNumberId = number } }, Ct);
        Assert.Equal(HttpStatusCode.Conflict, patched.StatusCode);

        await AssertWhatsAppDeliveredAsync(victim.Client);
    }

    [Fact]
    public async Task ADuplicateStoredBeforeIdentitiesWereUnique_CannotCaptureOrBreakTheOwnersReceipts()
    {
        // An account saved before sender identities were enforced (no identity stored) that names the victim's number:
        // status webhooks go to the account whose app secret signed them, not to whichever sorts first.
        var (victim, attacker) = await TwoTenantsAsync();
        var number = (await SandboxAccountAsync(victim.Client, "whatsapp-cloud"))["settings"].Str("phoneNumberId");
        var store = Host.Services.GetRequiredService<IProviderStore>();
        await store.CreateAsync(
            new ProviderAccount(
                Guid.CreateVersion7(), attacker.TenantId, Channel.WhatsApp, "whatsapp-cloud", "Legacy duplicate",
                WhatsAppAccountSettings(number, "attacker-app-secret").ToJsonString(), 100, true, DateTimeOffset.UnixEpoch),
            Ct);
        await Host.Services.GetRequiredService<ProviderDirectory>().InvalidateAsync(Ct);

        await AssertWhatsAppDeliveredAsync(victim.Client);
    }

    [Fact]
    public async Task ASignedReceiptOfAnotherTenantsAccount_ParkedForAFutureMessageId_NeverReachesThatMessage()
    {
        var (victim, attacker) = await TwoTenantsAsync();
        // The victim's next Telegram message to a fresh chat will have the id "{chat}:1" (Bot API message ids count per
        // chat): the attacker reports it read, signed with its own account's app secret, before the message exists.
        var chat = TestData.ChatId();
        var attackerNumber = UniqueNumber();
        const string attackerSecret = "attacker-app-secret-for-receipts";
        await CreateAsync(attacker.Client, WhatsAppAccount("Attacker", attackerNumber, attackerSecret));
        var status = new JsonObject
        {
            ["id"] = $"{chat}:1", ["status"] = "read", ["timestamp"] = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["recipient_id"] = chat,
        };
        var value = new JsonObject
        {
            ["messaging_product"] = "whatsapp",
            ["metadata"] = new JsonObject { ["display_phone_number"] = "15550001111", ["phone_number_id"] = attackerNumber },
            ["statuses"] = new JsonArray(status),
        };
        var forged = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["object"] = "whatsapp_business_account",
            ["entry"] = new JsonArray(new JsonObject { ["id"] = "1", ["changes"] = new JsonArray(new JsonObject { ["field"] = "messages", ["value"] = value }) }),
        }.ToJsonString());
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/callbacks/whatsapp") { Content = new ByteArrayContent(forged) })
        {
            request.Content.Headers.ContentType = new("application/json");
            request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(attackerSecret), forged)));
            using var client = Host.Client();
            using var accepted = await client.SendAsync(request, Ct);
            // A genuine signature of a known account: acknowledged (and kept for that account only).
            Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        }

        var id = await victim.Client.SendAsync(new { type = "service.news", channels = new[] { "telegram" }, customer = new { telegramChatId = chat }, data = new { text = "Hello" } });
        var delivered = await victim.Client.WaitForStatusAsync(id, "delivered");
        var attempt = Assert.Single(delivered.Attempts());
        Assert.Equal($"{chat}:1", attempt.Str("providerMessageId"));

        // The worker hands receipts parked for the stored id back in the same step that stores the attempt, and applies
        // them at once: on the code before the fix the attempt was "read" within milliseconds. Watched for a while so a
        // late application would be seen; a stalled machine can only make this pass, never fail falsely.
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(3))
        {
            var now = await victim.Client.GetNotificationAsync(id);
            Assert.Equal("delivered", now.Attempts()[0].Str("state"));
            await Task.Delay(100, Ct);
        }
    }

    private async Task AssertWhatsAppDeliveredAsync(HttpClient victim)
    {
        var phone = TestData.Phone();
        var id = await victim.SendAsync(new { type = "service.news", channels = new[] { "whatsapp" }, customer = new { phone }, data = new { text = "Your statement is ready" } });
        // Delivered means the sandbox's signed status webhook for the victim's number was accepted and applied.
        var n = await victim.WaitForStatusAsync(id, "delivered");
        Assert.Equal("whatsapp", n.Str("channel"));
        Assert.Equal("delivered", Assert.Single(n.Attempts()).Str("state"));
    }

    /// <summary>Two tenants, the victim being the one whose accounts sorted last in the routing table before the fix
    /// (ordered by tenant id), so an attacker's account with the same number would have won there.</summary>
    private async Task<((Guid TenantId, HttpClient Client) Victim, (Guid TenantId, HttpClient Client) Attacker)> TwoTenantsAsync()
    {
        var one = await Host.CreateTenantAsync("Bank One");
        var two = await Host.CreateTenantAsync("Bank Two");
        return one.TenantId.CompareTo(two.TenantId) > 0 ? (one, two) : (two, one);
    }

    private static async Task<JsonObject> SandboxAccountAsync(HttpClient client, string kind) =>
        (JsonObject)(await client.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!.Single(p => p.Str("kind") == kind)!;

    private static async Task<JsonObject> CreateAsync(HttpClient client, object account)
    {
        using var response = await client.PostAsJsonAsync("/v1/providers", account, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return JsonNode.Parse(body)!.AsObject();
    }

    private object WhatsAppAccount(string name, string phoneNumberId, string appSecret) =>
        new { channel = "whatsapp", kind = "whatsapp-cloud", name, weight = 0, settings = WhatsAppAccountSettings(phoneNumberId, appSecret) };

    private JsonObject WhatsAppAccountSettings(string phoneNumberId, string appSecret) => new()
    {
        ["baseUrl"] = Host.BaseUrl + "/sandbox/whatsapp",
        ["phoneNumberId"] = phoneNumberId,
        ["accessToken"] = "attacker-token",
        ["appSecret"] = appSecret,
    };

    private static string UniqueNumber() => "7" + RandomNumberGenerator.GetInt32(100_000_000, int.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture);
}

public sealed class PostgresReceiptIsolationTests(PipelineHostFixture fixture) : ReceiptIsolationTests, IClassFixture<PipelineHostFixture>
{
    protected override HeraldHost Host => fixture.Host;
}

public sealed class SqliteReceiptIsolationTests(SqlitePipelineHostFixture fixture) : ReceiptIsolationTests, IClassFixture<SqlitePipelineHostFixture>
{
    protected override HeraldHost Host => fixture.Host;
}
