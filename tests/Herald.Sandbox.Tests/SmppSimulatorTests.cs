using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Herald.Channels.Sms.Smpp;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Smpp;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Sandbox.Tests;

/// <summary>The SMPP SMSC simulator spoken to PDU by PDU, as an ESME would.</summary>
public sealed class SmppSimulatorTests : IAsyncLifetime
{
    private SandboxHost host = null!;

    public async ValueTask InitializeAsync() => host = await SandboxHost.StartAsync();

    public async ValueTask DisposeAsync() => await host.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private int Port => host.Services.GetRequiredService<SmppSimulator>().Port!.Value;

    [Fact]
    public async Task GetSmpp_ReportsLoopbackHostAndPort()
    {
        using var json = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/smpp", Ct));

        Assert.Equal("127.0.0.1", json.RootElement.GetProperty("host").GetString());
        Assert.Equal(Port, json.RootElement.GetProperty("port").GetInt32());
    }

    [Fact]
    public async Task GetSmpp_Disabled_ReportsNullPort()
    {
        await using var disabled = await SandboxHost.StartAsync(new Dictionary<string, string?> { ["Herald:Sandbox:SmppPort"] = "-1" });

        using var json = JsonDocument.Parse(await disabled.Client.GetStringAsync("/sandbox/smpp", Ct));

        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("port").ValueKind);
    }

    [Fact]
    public async Task SubmitBeforeBind_IsRefusedWithInvalidBindStatus_AndUnknownCommandsGetGenericNack()
    {
        await using var esme = await RawEsme.ConnectAsync(Port);

        var submit = await esme.RequestAsync(new SmppPdu(SmppCommand.SubmitSm, 0, 1) { Message = Sms("4915112345678", "hi") });
        var unknown = await esme.RequestAsync(SmppPdu.Header(0x00000103, 2));   // data_sm: not simulated

        Assert.Equal((SmppCommand.SubmitSmResp, SmppStatus.InvalidBindStatus), (submit.CommandId, submit.Status));
        Assert.Equal((SmppCommand.GenericNack, SmppStatus.InvalidCommandId, 2u), (unknown.CommandId, unknown.Status, unknown.Sequence));
        Assert.Empty(host.Services.GetRequiredService<Mailbox.SandboxMailbox>().Find("sms"));
    }

    [Fact]
    public async Task Bind_Submit_Receipt_EnquireLink_Unbind()
    {
        await using var esme = await RawEsme.ConnectAsync(Port);

        var bind = await esme.RequestAsync(new SmppPdu(SmppCommand.BindTransceiver, 0, 1) { Bind = new SmppBind("acme", "pw") });
        var again = await esme.RequestAsync(new SmppPdu(SmppCommand.BindTransceiver, 0, 2) { Bind = new SmppBind("acme", "pw") });
        var submit = await esme.RequestAsync(new SmppPdu(SmppCommand.SubmitSm, 0, 3) { Message = Sms("4915112345678", "Code 1234") with { RegisteredDelivery = 1 } });
        var receipt = await esme.ReadAsync();
        await esme.WriteAsync(new SmppPdu(SmppCommand.DeliverSmResp, 0, receipt.Sequence) { Id = "" });
        var link = await esme.RequestAsync(SmppPdu.Header(SmppCommand.EnquireLink, 4));
        var unbind = await esme.RequestAsync(SmppPdu.Header(SmppCommand.Unbind, 5));

        Assert.Equal((SmppCommand.BindTransceiverResp, SmppStatus.Ok, SmppSimulator.SmscSystemId), (bind.CommandId, bind.Status, bind.Id));
        Assert.Equal(SmppStatus.AlreadyBound, again.Status);
        Assert.Equal(SmppStatus.Ok, submit.Status);
        Assert.Equal(SmppCommand.DeliverSm, receipt.CommandId);
        var parsed = SmppReceipts.Parse(receipt.Message!)!;
        Assert.Equal((submit.Id, "DELIVRD"), (parsed.MessageId, parsed.Stat));
        Assert.Equal(("4915112345678", "BANK"), (receipt.Message!.SourceAddr, receipt.Message.DestinationAddr));
        Assert.Contains($"id:{submit.Id} ", Encoding.ASCII.GetString(receipt.Message.ShortMessage), StringComparison.Ordinal);
        Assert.Equal(SmppCommand.EnquireLinkResp, link.CommandId);
        Assert.Equal(SmppCommand.UnbindResp, unbind.CommandId);
        var message = Assert.Single(host.Services.GetRequiredService<Mailbox.SandboxMailbox>().Find("sms", "+4915112345678"));
        Assert.Equal(("Code 1234", submit.Id, "acme"), (message.Text, message.ProviderMessageId, message.Account));
        // The bind's password as a hash: what tells Herald's tenant-scoped bridge whose message it is (issue #19).
        Assert.Equal(Mailbox.SandboxMessage.CredentialOf("pw"), message.Credential);
    }

    [Fact]
    public async Task ConcatenatedParts_With16BitReference_OutOfOrder_AreReassembled()
    {
        await using var esme = await RawEsme.ConnectAsync(Port);
        await esme.RequestAsync(new SmppPdu(SmppCommand.BindTransmitter, 0, 1) { Bind = new SmppBind("acme", "pw") });
        byte[] Part(int seq, string text) => [0x06, 0x08, 0x04, 0x12, 0x34, 0x02, (byte)seq, .. GsmAlphabet.Encode(text)];

        var second = await esme.RequestAsync(new SmppPdu(SmppCommand.SubmitSm, 0, 2) { Message = Sms("4915112345678", "") with { EsmClass = 0x40, ShortMessage = Part(2, "world €") } });
        Assert.Empty(host.Services.GetRequiredService<Mailbox.SandboxMailbox>().Find("sms"));
        var first = await esme.RequestAsync(new SmppPdu(SmppCommand.SubmitSm, 0, 3) { Message = Sms("4915112345678", "") with { EsmClass = 0x40, ShortMessage = Part(1, "hello ") } });

        Assert.Equal((SmppStatus.Ok, SmppStatus.Ok), (first.Status, second.Status));
        var message = Assert.Single(host.Services.GetRequiredService<Mailbox.SandboxMailbox>().Find("sms"));
        Assert.Equal(("hello world €", first.Id), (message.Text, message.ProviderMessageId));
    }

    [Fact]
    public async Task MagicNumber_Rate_AndFailureRate_AreAnsweredWithSmppStatuses()
    {
        await using var esme = await RawEsme.ConnectAsync(Port);
        await esme.RequestAsync(new SmppPdu(SmppCommand.BindTransceiver, 0, 1) { Bind = new SmppBind("acme", "pw") });
        var settings = host.Services.GetRequiredService<SandboxSettings>();

        var magic = await esme.RequestAsync(new SmppPdu(SmppCommand.SubmitSm, 0, 2) { Message = Sms("15550000004", "x") });
        settings.Apply(new SandboxSettingsUpdate(null, null, null, 1.0, null));
        var failed = await esme.RequestAsync(new SmppPdu(SmppCommand.SubmitSm, 0, 3) { Message = Sms("4915112345678", "x") });
        settings.Apply(new SandboxSettingsUpdate(null, 1, null, 0, null));
        var statuses = new List<uint>();
        for (uint i = 0; i < 3; i++)
        {
            statuses.Add((await esme.RequestAsync(new SmppPdu(SmppCommand.SubmitSm, 0, 10 + i) { Message = Sms("4915112345678", "x") })).Status);
        }

        Assert.Equal(SmppStatus.InvalidDestinationAddress, magic.Status);
        Assert.Equal(SmppStatus.SystemError, failed.Status);
        Assert.Contains(SmppStatus.Throttled, statuses);
        using var stats = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/stats", Ct));
        var sms = stats.RootElement.GetProperty("sms").GetProperty("accounts").GetProperty("acme");
        Assert.Equal(1, sms.GetProperty("rejected").GetInt64());
        Assert.Equal(1, sms.GetProperty("failed").GetInt64());
        Assert.True(sms.GetProperty("rateLimited").GetInt64() >= 1);
    }

    [Fact]
    public async Task WrongConfiguredPassword_IsRefused()
    {
        await using var locked = await SandboxHost.StartAsync(new Dictionary<string, string?> { ["Herald:Sandbox:SmppPassword"] = "right" });
        await using var esme = await RawEsme.ConnectAsync(locked.Services.GetRequiredService<SmppSimulator>().Port!.Value);

        var wrong = await esme.RequestAsync(new SmppPdu(SmppCommand.BindTransceiver, 0, 1) { Bind = new SmppBind("acme", "wrong") });
        var right = await esme.RequestAsync(new SmppPdu(SmppCommand.BindTransceiver, 0, 2) { Bind = new SmppBind("acme", "right") });

        Assert.Equal((SmppStatus.InvalidPassword, SmppStatus.Ok), (wrong.Status, right.Status));
    }

    [Fact]
    public async Task SpecBytes_BindEnquireLinkUnbind_AreAnsweredWithTheSpecsBytes()
    {
        // Written out from SMPP 3.4 (§4.1.5 bind_transceiver, §4.11 enquire_link, §4.2 unbind; §5.1.2 command ids), and
        // read back from the socket byte by byte: no part of Herald's codec is on either side of this check.
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", Port, Ct);
        var stream = client.GetStream();
        byte[] bind =
        [
            0x00, 0x00, 0x00, 0x1D, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // header, seq 1
            (byte)'a', (byte)'c', (byte)'m', (byte)'e', 0x00, // system_id "acme"
            (byte)'p', (byte)'w', 0x00, // password "pw"
            0x00, // system_type ""
            0x34, // interface_version 3.4
            0x00, 0x00, // addr_ton, addr_npi
            0x00, // address_range ""
        ];
        await stream.WriteAsync(bind, Ct);
        var bindResp = await ReadRawFrameAsync(stream);
        Assert.Equal([0x80, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01], bindResp[4..16]);
        // The body begins with the SMSC's system_id, a C-octet string.
        Assert.Contains((byte)0x00, bindResp[16..]);

        await stream.WriteAsync(new byte[] { 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x15, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02 }, Ct);
        Assert.Equal([0x00, 0x00, 0x00, 0x10, 0x80, 0x00, 0x00, 0x15, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02], await ReadRawFrameAsync(stream));

        await stream.WriteAsync(new byte[] { 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03 }, Ct);
        Assert.Equal([0x00, 0x00, 0x00, 0x10, 0x80, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03], await ReadRawFrameAsync(stream));
    }

    /// <summary>One PDU as raw bytes: the 4-byte big-endian command_length, then the rest.</summary>
    private static async Task<byte[]> ReadRawFrameAsync(NetworkStream stream)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        var length = new byte[4];
        await stream.ReadExactlyAsync(length, deadline.Token);
        var frame = new byte[BinaryPrimitives.ReadUInt32BigEndian(length)];
        Assert.InRange(frame.Length, 16, 4096);
        length.CopyTo(frame, 0);
        await stream.ReadExactlyAsync(frame.AsMemory(4), deadline.Token);
        return frame;
    }

    [Fact]
    public async Task HostileFrames_AreNackedOrCloseTheConnection_AndTheSimulatorKeepsServing()
    {
        await using (var esme = await RawEsme.ConnectAsync(Port))
        {
            // A bind whose system_id has no terminator: generic_nack, the session goes on.
            var frame = new byte[16 + 4];
            BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)frame.Length);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), SmppCommand.BindTransceiver);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12), 77);
            "abcd"u8.CopyTo(frame.AsSpan(16));
            await esme.WriteRawAsync(frame);
            var nack = await esme.ReadAsync();
            Assert.Equal((SmppCommand.GenericNack, 77u), (nack.CommandId, nack.Sequence));

            // A 2 GiB command_length: the SMSC drops the connection instead of buffering.
            var huge = new byte[16];
            BinaryPrimitives.WriteUInt32BigEndian(huge, 0x7FFFFFFF);
            BinaryPrimitives.WriteUInt32BigEndian(huge.AsSpan(4), SmppCommand.SubmitSm);
            await esme.WriteRawAsync(huge);
            Assert.True(await esme.IsClosedAsync());
        }

        await using var next = await RawEsme.ConnectAsync(Port);
        var bind = await next.RequestAsync(new SmppPdu(SmppCommand.BindTransceiver, 0, 1) { Bind = new SmppBind("acme", "pw") });
        Assert.Equal(SmppStatus.Ok, bind.Status);
    }

    private static SmppShortMessage Sms(string to, string text) => new()
    {
        SourceTon = 5,
        SourceAddr = "BANK",
        DestTon = 1,
        DestNpi = 1,
        DestinationAddr = to,
        ShortMessage = GsmAlphabet.Encode(text),
    };

    private sealed class RawEsme : IAsyncDisposable
    {
        private readonly TcpClient client;
        private readonly SmppConnection connection;

        private RawEsme(TcpClient client)
        {
            this.client = client;
            connection = new SmppConnection(client.GetStream());
        }

        public static async Task<RawEsme> ConnectAsync(int port)
        {
            var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", port, Ct);
            return new RawEsme(client);
        }

        public async Task<SmppPdu> RequestAsync(SmppPdu pdu)
        {
            await WriteAsync(pdu);
            return await ReadAsync();
        }

        public Task WriteAsync(SmppPdu pdu) => connection.WriteAsync(pdu, Ct);

        public async Task WriteRawAsync(byte[] bytes) => await client.GetStream().WriteAsync(bytes, Ct);

        public async Task<SmppPdu> ReadAsync()
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            deadline.CancelAfter(TimeSpan.FromSeconds(30));
            var frame = await connection.ReadFrameAsync(deadline.Token);
            Assert.NotNull(frame);
            return SmppCodec.Decode(frame);
        }

        public async Task<bool> IsClosedAsync()
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            deadline.CancelAfter(TimeSpan.FromSeconds(30));
            try
            {
                return await connection.ReadFrameAsync(deadline.Token) is null;
            }
            catch (IOException)
            {
                return true;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await connection.DisposeAsync();
            client.Dispose();
        }
    }
}
