using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Channels.Sms.Smpp;
using Herald.Core.Delivery;
using Herald.Core.Providers;
using Microsoft.Extensions.DependencyInjection;
using static Herald.Channels.Tests.Smpp.SmppTestKit;

namespace Herald.Channels.Tests.Smpp;

/// <summary>
/// Herald's SMPP client and SMSC simulator against Net::SMPP (Debian's libnet-smpp-perl), an SMPP implementation
/// not written here. scripts/test.sh installs the package; without it these tests fail and say so.
/// </summary>
public sealed class NetSmppPeerTests
{
    [Fact]
    public async Task Client_DeliversToANetSmppSmsc_AndMatchesItsReceipt()
    {
        await using var smsc = await PerlProcess.StartAsync("perl_smsc.pl", "s3cret");
        var (sink, services, connector, account) = await ClientOfAsync(smsc);
        await using var _ = services;

        var outcome = await connector.SendAsync(TestHost.Message("+49 151 12345678", "Hi [€5]"), account, Ct);

        Assert.Equal((SendOutcomeKind.Accepted, "perl-1"), (outcome.Kind, outcome.ProviderMessageId));
        Assert.Equal("BIND system_id=herald password_ok=1 version=52", await smsc.WaitForLineAsync("BIND "));
        // GSM 03.38 unpacked: H i space, then [ and € as escape pairs (1B 3C, 1B 65), 5, ] (1B 3E).
        Assert.Equal(
            "SUBMIT id=perl-1 dest=4915112345678 dest_ton=1 dest_npi=1 source=BANK source_ton=5 esm=0 dc=0 rd=1 sm=4869201b3c1b65351b3e",
            await smsc.WaitForLineAsync("SUBMIT "));
        await WaitUntilAsync(() => !sink.Received.IsEmpty, "the Net::SMPP receipt");
        var (accountId, receipt) = Assert.Single(sink.Received);
        Assert.Equal((account.Id, "perl-1", ReceiptState.Delivered), (accountId, receipt.ProviderMessageId, receipt.State));
        Assert.Equal("DELIVER_RESP seq=1 status=0", await smsc.WaitForLineAsync("DELIVER_RESP "));

        await services.DisposeAsync();
        Assert.Equal("UNBIND", await smsc.WaitForLineAsync("UNBIND"));
    }

    [Fact]
    public async Task Client_SendsALongUcs2TextAsConcatenatedParts_ToANetSmppSmsc_AndMatchesEveryPartsReceipt()
    {
        await using var smsc = await PerlProcess.StartAsync("perl_smsc.pl", "s3cret");
        var (sink, services, connector, account) = await ClientOfAsync(smsc);
        await using var _ = services;
        var text = string.Concat(Enumerable.Repeat("Ваш платёж 1 250,00 ₽ зачислен. ", 3));   // 99 UCS-2 units: 2 parts
        var message = TestHost.Message("+4915112345678", text);

        var outcome = await connector.SendAsync(message, account, Ct);

        Assert.Equal((SendOutcomeKind.Accepted, "perl-1"), (outcome.Kind, outcome.ProviderMessageId));
        var submits = await smsc.WaitForLinesAsync("SUBMIT ", 2);
        var reference = SmsText.ReferenceFor(message.NotificationId).ToString("x2", System.Globalization.CultureInfo.InvariantCulture);
        var payload = new System.Text.StringBuilder();
        for (var i = 0; i < 2; i++)
        {
            // esm_class 0x40 (UDHI), data_coding 8 (UCS-2), UDH 05 00 03 ref 02 seq, then UTF-16BE.
            Assert.Contains($"id=perl-{i + 1} dest=4915112345678 ", submits[i], StringComparison.Ordinal);
            Assert.Contains(" esm=64 dc=8 rd=1 ", submits[i], StringComparison.Ordinal);
            var hex = submits[i][(submits[i].IndexOf(" sm=", StringComparison.Ordinal) + 4)..];
            Assert.StartsWith($"050003{reference}020{i + 1}", hex, StringComparison.Ordinal);
            payload.Append(hex[12..]);
        }

        Assert.Equal(text, System.Text.Encoding.BigEndianUnicode.GetString(Convert.FromHexString(payload.ToString())));
        Assert.Equal(["perl-1", "perl-2"], sink.Parts[message.AttemptId]);
        await WaitUntilAsync(() => sink.Received.Count == 2, "both parts' Net::SMPP receipts");
        Assert.Equal(["perl-1", "perl-2"], sink.Received.Select(static r => r.Receipt.ProviderMessageId).Order(StringComparer.Ordinal));
    }

    /// <summary>Herald's connector bound as "herald" to the Net::SMPP SMSC, and the sink its receipts go to.</summary>
    private static async Task<(CollectingReceiptSink Sink, ServiceProvider Services, SmppSmsConnector Connector, ProviderAccount Account)> ClientOfAsync(
        PerlProcess smsc)
    {
        var port = int.Parse((await smsc.WaitForLineAsync("PORT "))["PORT ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        var sink = new CollectingReceiptSink();
        var services = Services(sink);
        return (sink, services, services.GetRequiredService<SmppSmsConnector>(), Account(port, systemId: "herald", password: "s3cret"));
    }

    [Fact]
    public async Task NetSmppEsme_SubmitsToTheSandboxSmsc_MessageShowsUpWithItsReceipt()
    {
        await using var host = await SmscHost.StartAsync();

        await using var esme = await PerlProcess.StartAsync("perl_esme.pl", host.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "4915112340099", "Your code is 1234");

        Assert.Equal("BIND_RESP status=0 system_id=HeraldSandbox", await esme.WaitForLineAsync("BIND_RESP "));
        var submit = await esme.WaitForLineAsync("SUBMIT_RESP ");
        Assert.StartsWith("SUBMIT_RESP status=0 id=", submit, StringComparison.Ordinal);
        var id = submit["SUBMIT_RESP status=0 id=".Length..];
        var receipt = await esme.WaitForLineAsync("RECEIPT ");
        Assert.StartsWith($"RECEIPT esm=4 receipted_message_id={id} message_state=2 text=id:{id} sub:001 dlvrd:001 ", receipt, StringComparison.Ordinal);
        Assert.Contains(" stat:DELIVRD err:000 text:Your code is 1234", receipt, StringComparison.Ordinal);
        Assert.Equal("UNBIND_RESP status=0", await esme.WaitForLineAsync("UNBIND_RESP "));

        using var http = new HttpClient { BaseAddress = new Uri(host.BaseUrl) };
        var messages = await http.GetFromJsonAsync<JsonElement>("/sandbox/messages?channel=sms&to=%2B4915112340099", Ct);
        var message = Assert.Single(messages.EnumerateArray());
        Assert.Equal(("+4915112340099", "Your code is 1234", id, "perlesme"),
            (message.GetProperty("to").GetString(), message.GetProperty("text").GetString(), message.GetProperty("providerMessageId").GetString(), message.GetProperty("account").GetString()));
    }
}

/// <summary>A Perl script from the test folder, its stdout collected line by line.</summary>
internal sealed class PerlProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly ConcurrentQueue<string> _errors = new();

    private PerlProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _lines.Enqueue(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _errors.Enqueue(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static async Task<PerlProcess> StartAsync(string script, params string[] args)
    {
        await RequireNetSmppAsync();
        var info = new ProcessStartInfo("perl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Smpp", script));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return new PerlProcess(Process.Start(info)!);
    }

    /// <summary>The first <paramref name="count"/> lines starting with the prefix, in order, waiting with a deadline.</summary>
    public async Task<IReadOnlyList<string>> WaitForLinesAsync(string prefix, int count, int seconds = 20)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        while (true)
        {
            var lines = _lines.Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).Take(count).ToList();
            if (lines.Count == count)
            {
                return lines;
            }

            if (_process.HasExited || deadline.IsCancellationRequested)
            {
                throw Missing($"{count} x {prefix}");
            }

            await Task.Delay(10, CancellationToken.None);
        }
    }

    /// <summary>The first line starting with the prefix, waiting for it with a deadline.</summary>
    public async Task<string> WaitForLineAsync(string prefix, int seconds = 20)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        while (true)
        {
            var line = _lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
            if (line is not null)
            {
                return line;
            }

            if (_process.HasExited)
            {
                // WaitForExit also waits for the redirected streams to reach their end.
                await _process.WaitForExitAsync(CancellationToken.None);
                line = _lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
                return line ?? throw Missing(prefix);
            }

            if (deadline.IsCancellationRequested)
            {
                throw Missing(prefix);
            }

            await Task.Delay(10, CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync(CancellationToken.None);
        _process.Dispose();
    }

    private Xunit.Sdk.XunitException Missing(string prefix) =>
        new($"no line starting '{prefix}' from perl; stdout: {string.Join(" | ", _lines)}; stderr: {string.Join(" | ", _errors)}");

    private static async Task RequireNetSmppAsync()
    {
        var check = new ProcessStartInfo("perl", ["-MNet::SMPP", "-e", "1"]) { RedirectStandardError = true, UseShellExecute = false };
        Process? started = null;
        try
        {
            started = Process.Start(check);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // perl is missing: reported below.
        }

        using var process = started ?? throw new Xunit.Sdk.XunitException(
            "perl is not installed; these tests need perl and Debian's libnet-smpp-perl (apt-get install -y libnet-smpp-perl; scripts/test.sh installs it)");

        await process.WaitForExitAsync(CancellationToken.None);
        if (process.ExitCode != 0)
        {
            Assert.Fail("Net::SMPP is not installed: apt-get install -y libnet-smpp-perl (scripts/test.sh installs it)");
        }
    }
}
