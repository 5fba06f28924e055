using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.Sandbox.Tests;

/// <summary>A status as the stand-in for Herald's /callbacks/whatsapp received it.</summary>
public sealed record ReceivedStatus(string Id, string Status, string RecipientId, string Timestamp, int? ErrorCode, string? ErrorTitle);

/// <summary>
/// A real Kestrel host on 127.0.0.1:0 with the sandbox mounted and a stand-in for Herald's WhatsApp callback
/// that checks X-Hub-Signature-256 and records every status.
/// </summary>
public sealed class SandboxHost : IAsyncDisposable
{
    public const string Secret = "test-app-secret";

    private readonly WebApplication app;
    private int failuresToInject;

    private SandboxHost(WebApplication app, string baseUrl)
    {
        this.app = app;
        BaseUrl = baseUrl;
        Client = new HttpClient { BaseAddress = new Uri(baseUrl) };
    }

    public string BaseUrl { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => app.Services;

    public ConcurrentQueue<ReceivedStatus> Statuses { get; } = new();

    public int WebhookPosts;

    /// <summary>Auth token the SMS tests authenticate with; callbacks must be signed with it.</summary>
    public const string SmsAuthToken = "sms-test-auth-token";

    /// <summary>SMS status callbacks received with a valid signature, as their form parameters.</summary>
    public ConcurrentQueue<IReadOnlyDictionary<string, string>> SmsCallbacks { get; } = new();

    public int BadSignatures;

    public int FailedWebhookAnswers;

    /// <summary>Answer the next <paramref name="count"/> webhook POSTs with 500, like a Herald hiccup.</summary>
    public void FailNextWebhooks(int count) => Volatile.Write(ref failuresToInject, count);

    /// <param name="time">The sandbox's clock; the system clock when null.</param>
    public static async Task<SandboxHost> StartAsync(IDictionary<string, string?>? settings = null, TimeProvider? time = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var config = new Dictionary<string, string?>
        {
            ["Herald:Sandbox:Enabled"] = "true",
            ["Herald:Sandbox:AppSecret"] = Secret,
            ["Herald:Sandbox:ReceiptDelayMs"] = "10",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(config);
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }

        builder.Services.AddHeraldSandbox(builder.Configuration);
        var app = builder.Build();
        app.MapHeraldSandbox();
        SandboxHost? host = null;
        app.MapPost("/callbacks/whatsapp", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            return host!.Receive(buffer.ToArray(), context.Request.Headers["X-Hub-Signature-256"].ToString());
        });
        app.MapPost("/callbacks/sms/{provider}", async (HttpContext context) =>
        {
            var form = await context.Request.ReadFormAsync(context.RequestAborted);
            return host!.ReceiveSms(
                context.Request.Scheme + "://" + context.Request.Host + context.Request.Path,
                form.Select(f => new KeyValuePair<string, string>(f.Key, f.Value.ToString())).ToList(),
                context.Request.Headers["X-Twilio-Signature"].ToString());
        });
        await app.StartAsync();
        host = new SandboxHost(app, app.Urls.First());
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }

    public Task<HttpResponseMessage> SendWhatsAppAsync(object body, string phoneNumberId = "1234567890", string? token = "any-token")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/sandbox/whatsapp/v23.0/{phoneNumberId}/messages")
        {
            Content = JsonContent.Create(body),
        };
        if (token is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        return Client.SendAsync(request);
    }

    public static object Text(string to, string body = "Your card was charged 10.00 EUR") => new
    {
        messaging_product = "whatsapp",
        recipient_type = "individual",
        to,
        type = "text",
        text = new { body },
    };

    public async Task<string> SendTextAndGetWamidAsync(string to)
    {
        using var response = await SendWhatsAppAsync(Text(to));
        Assert.Equal(200, (int)response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("messages")[0].GetProperty("id").GetString()!;
    }

    public IReadOnlyList<ReceivedStatus> StatusesOf(string wamid) => Statuses.Where(s => s.Id == wamid).ToList();

    /// <summary>Polls until the condition holds or the deadline passes; no fixed sleeps in tests. The deadline only
    /// bounds a hung test: it is long because a loaded 2-core machine can take seconds for what is instant when idle.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, int seconds = 30)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        while (!condition())
        {
            if (deadline.IsCancellationRequested)
            {
                Assert.Fail($"Timed out waiting for {what}");
            }

            await Task.Delay(10, CancellationToken.None);
        }
    }

    private IResult ReceiveSms(string url, List<KeyValuePair<string, string>> form, string signature)
    {
        // Checked with the vendor's recipe written out here, not with the simulator's own signer.
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(TwilioRecipeSignature(url, form, SmsAuthToken)), Encoding.ASCII.GetBytes(signature)))
        {
            Interlocked.Increment(ref BadSignatures);
            return Results.StatusCode(403);
        }

        if (Interlocked.Decrement(ref failuresToInject) >= 0)
        {
            Interlocked.Increment(ref FailedWebhookAnswers);
            return Results.StatusCode(500);
        }

        SmsCallbacks.Enqueue(form.ToDictionary(f => f.Key, f => f.Value));
        return Results.NoContent();
    }

    public Task<HttpResponseMessage> SendSmsAsync(IEnumerable<KeyValuePair<string, string>> form, string accountSid = "AC0123456789abcdef0123456789abcdef", bool authenticate = true)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/sandbox/sms/2010-04-01/Accounts/{accountSid}/Messages.json")
        {
            Content = new FormUrlEncodedContent(form),
        };
        if (authenticate)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
                "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(accountSid + ":" + SmsAuthToken)));
        }

        return Client.SendAsync(request);
    }

    /// <summary>
    /// Twilio's documented recipe for <c>X-Twilio-Signature</c> (twilio.com/docs/usage/security): the full URL, then
    /// every POST parameter sorted by name as name followed by value, HMAC-SHA1 keyed with the auth token, base64.
    /// Pinned to Twilio's published example by <c>TwilioSimulatorTests</c>.
    /// </summary>
    public static string TwilioRecipeSignature(string url, IEnumerable<KeyValuePair<string, string>> form, string authToken)
    {
        var data = new StringBuilder(url);
        foreach (var (name, value) in form.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            data.Append(name).Append(value);
        }

        return Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(authToken), Encoding.UTF8.GetBytes(data.ToString())));
    }

    private IResult Receive(byte[] body, string signature)
    {
        Interlocked.Increment(ref WebhookPosts);
        var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), body));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(signature)))
        {
            Interlocked.Increment(ref BadSignatures);
            return Results.Unauthorized();
        }

        if (Interlocked.Decrement(ref failuresToInject) >= 0)
        {
            Interlocked.Increment(ref FailedWebhookAnswers);
            return Results.StatusCode(500);
        }

        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        Assert.Equal("whatsapp_business_account", root.GetProperty("object").GetString());
        foreach (var entry in root.GetProperty("entry").EnumerateArray())
        {
            Assert.False(string.IsNullOrEmpty(entry.GetProperty("id").GetString()));
            foreach (var change in entry.GetProperty("changes").EnumerateArray())
            {
                Assert.Equal("messages", change.GetProperty("field").GetString());
                var value = change.GetProperty("value");
                Assert.Equal("whatsapp", value.GetProperty("messaging_product").GetString());
                Assert.False(string.IsNullOrEmpty(value.GetProperty("metadata").GetProperty("phone_number_id").GetString()));
                Assert.False(string.IsNullOrEmpty(value.GetProperty("metadata").GetProperty("display_phone_number").GetString()));
                foreach (var status in value.GetProperty("statuses").EnumerateArray())
                {
                    int? code = null;
                    string? title = null;
                    if (status.TryGetProperty("errors", out var errors))
                    {
                        code = errors[0].GetProperty("code").GetInt32();
                        title = errors[0].GetProperty("title").GetString();
                        Assert.False(string.IsNullOrEmpty(errors[0].GetProperty("error_data").GetProperty("details").GetString()));
                    }

                    Statuses.Enqueue(new ReceivedStatus(
                        status.GetProperty("id").GetString()!,
                        status.GetProperty("status").GetString()!,
                        status.GetProperty("recipient_id").GetString()!,
                        status.GetProperty("timestamp").GetString()!,
                        code,
                        title));
                }
            }
        }

        return Results.Ok();
    }
}
