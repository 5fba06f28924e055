using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Herald.Channels.Callbacks;
using Herald.Channels.Telegram;
using Herald.Core.Providers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Channels.Tests.Callbacks;

/// <summary>
/// THE callback compliance suite: every channel with an inbound callback passes it, over HTTP on a real Kestrel host
/// serving <c>/callbacks/{kind}/{accountId}</c> through the <see cref="CallbackPipeline"/> as the Server does, with the
/// channels composed as the application composes them (AddHeraldChannels). A channel's test class supplies an account,
/// a genuine request as its provider sends it (body and the headers that authenticate it) and the receipts it must
/// yield. The suite checks: the genuine request is taken and parses to exactly those receipts, vouched for by that
/// account; a bad and a missing signature (or token) are refused and take nothing; a body over the handler's cap is
/// refused with 413 while it is still streaming in; an unknown account, and an account of another kind, are 404.
/// </summary>
public abstract class CallbackComplianceTests : IAsyncLifetime
{
    protected static readonly DateTimeOffset Now = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);

    private readonly InMemoryProviderStore _store = new();
    private readonly RecordingSink _sink = new();
    private WebApplication _app = null!;
    private HttpClient _client = null!;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The <see cref="ProviderAccount.Kind"/> whose callbacks are under test.</summary>
    protected abstract string Kind { get; }

    /// <summary>An account of <see cref="Kind"/> with the secrets the genuine request is signed with.</summary>
    protected abstract ProviderAccount Account { get; }

    protected abstract string ContentType { get; }

    /// <summary>A body as the provider sends it.</summary>
    protected abstract byte[] GenuineBody { get; }

    /// <summary>What <see cref="GenuineBody"/> must parse to (receipt times by <see cref="Now"/> where the provider gives none).</summary>
    protected abstract IReadOnlyList<ProviderReceipt> ExpectedReceipts { get; }

    /// <summary>The header that authenticates the request (a signature over the body, a token).</summary>
    protected abstract string CredentialHeader { get; }

    /// <summary>The credential header's value for <paramref name="body"/> sent to <paramref name="url"/>, as the provider makes it.</summary>
    protected abstract string Credential(ProviderAccount account, Uri url, byte[] body);

    /// <summary>A well-formed credential that is not the account's (another secret).</summary>
    protected abstract string ForgedCredential(ProviderAccount account, Uri url, byte[] body);

    /// <summary>The status a taken request is answered with (what the provider expects).</summary>
    protected abstract HttpStatusCode TakenStatus { get; }

    /// <summary>The status a bad or missing credential is refused with.</summary>
    protected abstract HttpStatusCode RefusedStatus { get; }

    public async ValueTask InitializeAsync()
    {
        await _store.CreateAsync(Account, Ct);
        // An account of another kind, which the generic route must not hand to this kind's handler.
        await _store.CreateAsync(Kind == TelegramBotConnector.ConnectorKind
            ? TestHost.TwilioAccount(new Uri("https://api.twilio.com"))
            : TestHost.TelegramAccount(new Uri("https://api.telegram.org")), Ct);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [TestHost.EgressAllowSetting] = TestHost.EgressAllowLoopback });
        builder.Services.AddSingleton<TimeProvider>(new FakeTimeProvider(Now));
        builder.Services.AddSingleton<IProviderAccountSource>(_store);
        builder.Services.AddSingleton<IReceiptSink>(_sink);
        builder.Services.AddHeraldChannels(builder.Configuration);
        _app = builder.Build();
        _app.MapMethods("/callbacks/{kind}/{accountId:guid}", [HttpMethods.Get, HttpMethods.Post],
            async (string kind, Guid accountId, HttpRequest request, CallbackPipeline pipeline, CancellationToken ct) =>
                Answer(await pipeline.RunAsync(kind, accountId, request, ct)));
        await _app.StartAsync(Ct);
        _client = new HttpClient { BaseAddress = new Uri(_app.Urls.First()) };
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task GenuineRequest_IsTaken_AndParsesToItsReceipts_VouchedForByTheAccount()
    {
        var response = await SendAsync(Path(Account.Id), GenuineBody, (url, body) => Credential(Account, url, body));

        Assert.Equal(TakenStatus, response.StatusCode);
        Assert.Equal(ExpectedReceipts, _sink.Received.Select(static r => r.Receipt));
        Assert.All(_sink.Received, r => Assert.Equal(Account.Id, r.AccountId));
    }

    [Fact]
    public async Task ForgedCredential_IsRefused_AndTakesNothing()
    {
        var response = await SendAsync(Path(Account.Id), GenuineBody, (url, body) => ForgedCredential(Account, url, body));

        Assert.Equal(RefusedStatus, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(_sink.Received);
    }

    [Fact]
    public async Task MissingCredential_IsRefused_AndTakesNothing()
    {
        var response = await SendAsync(Path(Account.Id), GenuineBody, credential: null);

        Assert.Equal(RefusedStatus, response.StatusCode);
        Assert.Empty(_sink.Received);
    }

    [Fact]
    public async Task UnknownAccount_AndAnAccountOfAnotherKind_Are404()
    {
        var other = (await _store.ListEnabledAsync(Ct)).Single(a => a.Kind != Kind);

        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(Path(Guid.NewGuid()), GenuineBody, (url, body) => Credential(Account, url, body))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(Path(other.Id), GenuineBody, (url, body) => Credential(Account, url, body))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync($"/callbacks/no-such-kind/{Account.Id}", GenuineBody, (url, body) => Credential(Account, url, body))).StatusCode);
        Assert.Empty(_sink.Received);
    }

    /// <summary>Chunked (no Content-Length to refuse up front): the client sends four times the cap and then waits for
    /// the answer while holding back the rest. A server that buffers the whole body before checking never answers.</summary>
    [Fact]
    public async Task OversizedBody_IsRefusedWith413_WhileItIsStillStreaming()
    {
        var cap = _app.Services.GetServices<IChannelCallbackHandler>().Single(h => h.Kind == Kind).MaxBodyBytes;
        var pauseAt = 4L * cap;
        var path = Path(Account.Id);
        var address = _client.BaseAddress!;
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port, Ct);
        var stream = tcp.GetStream();
        // The request carries the genuine credential of the genuine body, so checks made before the body (a token, a
        // secret header) pass and only the cap can stop it.
        var head = $"POST {path} HTTP/1.1\r\nHost: {address.Authority}\r\nContent-Type: {ContentType}\r\nTransfer-Encoding: chunked\r\n"
            + $"{CredentialHeader}: {Credential(Account, new Uri(address, path), GenuineBody)}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), Ct);
        long sent = 0;
        var sending = Task.Run(async () =>
        {
            var chunk = Encoding.ASCII.GetBytes("4000\r\n" + new string('a', 0x4000) + "\r\n");
            try
            {
                while (Interlocked.Read(ref sent) < pauseAt)
                {
                    await stream.WriteAsync(chunk);
                    Interlocked.Add(ref sent, 0x4000);
                }
            }
            catch (IOException)
            {
                // The server answered and closed the connection: it read no further.
            }
            catch (ObjectDisposedException)
            {
                // The answer came while a chunk was still being written, and the test closed the connection.
            }
        }, Ct);

        using var deadline = new CancellationTokenSource(TestHost.Deadline);
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        try
        {
            while (!answer.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, deadline.Token);
                if (read == 0)
                {
                    break;
                }

                answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"No answer while the client held back the rest of the body (after {Interlocked.Read(ref sent) / 1024} KiB): the server waits for all of it.");
        }

        tcp.Close();
        await sending;
        Assert.StartsWith("HTTP/1.1 413", answer.ToString(), StringComparison.Ordinal);
        Assert.Empty(_sink.Received);
    }

    protected string Path(Guid accountId) => $"/callbacks/{Kind}/{accountId}";

    private async Task<HttpResponseMessage> SendAsync(string path, byte[] body, Func<Uri, byte[], string>? credential)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(ContentType);
        if (credential is not null)
        {
            request.Headers.TryAddWithoutValidation(CredentialHeader, credential(new Uri(_client.BaseAddress!, path), body));
        }

        return await _client.SendAsync(request, Ct);
    }

    /// <summary>The Server's answers, by status (its problem+json bodies are the Server's, tested there).</summary>
    private static IResult Answer(CallbackOutcome outcome) =>
        outcome.IsNotFound ? Results.NotFound()
        : outcome.TooLargeLimit > 0 ? Results.StatusCode(StatusCodes.Status413PayloadTooLarge)
        : outcome.Refusal is { } refusal ? Results.Problem(statusCode: refusal.Status, title: refusal.Title)
        : outcome.Reply switch
        {
            CallbackReply.NoContent => Results.NoContent(),
            CallbackReply.Text => Results.Text(outcome.Text ?? ""),
            _ => Results.Ok(),
        };

    private sealed class RecordingSink : IReceiptSink
    {
        public ConcurrentQueue<(Guid AccountId, ProviderReceipt Receipt)> Received { get; } = new();

        public Task AcceptAsync(InboundBatch batch, CancellationToken ct)
        {
            foreach (var receipt in batch.Receipts)
            {
                Received.Enqueue((batch.Account.Id, receipt));
            }

            return Task.CompletedTask;
        }

        public Task RecordPartsAsync(ProviderAccount account, Guid attemptId, IReadOnlyList<string> partIds, CancellationToken ct) => Task.CompletedTask;
    }
}
