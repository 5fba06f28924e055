using System.Buffers;
using System.Net.Http.Headers;
using System.Text.Json;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;

namespace Herald.Channels.WhatsApp;

/// <summary>
/// Sends through Meta's WhatsApp Cloud API: <c>POST {baseUrl}/{apiVersion}/{phoneNumberId}/messages</c> with a
/// Bearer token. A 200 answer means Meta accepted the message (<see cref="SendOutcomeKind.Accepted"/>); delivery
/// arrives later as a status webhook (<see cref="WhatsAppWebhook"/>).
/// <para>The customer-service window (<see cref="ICustomerServiceWindows"/>) is decided here, where the account, and so
/// the business number the window belongs to, is known: inside it the message goes free-form (interactive reply buttons
/// when it asks a question), outside it the notification's approved template goes; without a template nothing is sent
/// and the step fails at once with <see cref="WindowClosedCode"/> (no provider call, nothing billed), so the route's
/// next channel takes over. An account with <c>serviceWindow: "off"</c> sends the template whenever there is one.</para>
/// </summary>
public sealed class WhatsAppCloudConnector(IHttpClientFactory httpClients, TimeProvider time, ICustomerServiceWindows? windows = null) : IChannelConnector
{
    public const string ConnectorKind = "whatsapp-cloud";

    /// <summary>Error code of a free-form message Herald did not send because the customer's window is closed and the
    /// notification has no WhatsApp template: Meta would refuse it with 131047.</summary>
    public const string WindowClosedCode = "whatsapp_window_closed";

    /// <summary>How errors name the far end.</summary>
    internal const string Api = "WhatsApp Cloud API";

    private readonly AccountSettingsCache<WhatsAppSettings> _settings = new(WhatsAppSettings.Parse);

    public string Kind => ConnectorKind;

    public Channel Channel => Channel.WhatsApp;

    public async Task<SendOutcome> SendAsync(OutboundMessage message, ProviderAccount account, CancellationToken ct)
    {
        var settings = _settings.Get(account, out var settingsError);
        if (settings is null)
        {
            return AccountSettings.Unusable(settingsError);
        }

        var to = DigitsOnly(message.To);
        if (to.Length == 0)
        {
            return SendOutcome.Permanent("invalid_address", "recipient phone number has no digits");
        }

        if (settings.EnforceServiceWindow && windows is not null)
        {
            if (await windows.IsOpenAsync(account, to, ct).ConfigureAwait(false))
            {
                // Inside the window the words go free-form: the reply buttons only a free-form message can carry.
                message = message with { Template = null };
            }
            else if (message.Template is null)
            {
                return SendOutcome.Permanent(
                    WindowClosedCode, "outside WhatsApp's 24-hour customer-service window and the notification has no WhatsApp template");
            }
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, settings.MessagesUri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", settings.AccessToken);
        var body = new ByteArrayContent(WriteBody(message, to));
        body.Headers.ContentType = ConnectorHttp.Json;
        request.Content = body;

        return await ConnectorHttp.SendAsync(
            httpClients.CreateClient(ChannelHttpClients.WhatsApp), request, r => ReadAsync(r, ct), Api, ct).ConfigureAwait(false);
    }

    private Task<SendOutcome> ReadAsync(HttpResponseMessage response, CancellationToken ct) =>
        ConnectorHttp.ReadJsonAnswerAsync(
            response, () => Error(response, null), root => Read(response, root), ct);

    private SendOutcome Read(HttpResponseMessage response, JsonElement root)
    {
        var status = (int)response.StatusCode;
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
        {
            return Error(response, ProviderJson.Int32(error, "code"));
        }

        if (!response.IsSuccessStatusCode)
        {
            return Error(response, null);
        }

        return root.ValueKind == JsonValueKind.Object
            && root.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array && messages.GetArrayLength() > 0
            && ProviderJson.String(messages[0], "id") is { Length: > 0 } wamid
            ? new SendOutcome(SendOutcomeKind.Accepted, ProviderMessageId: wamid)
            : SendOutcome.Transient("malformed_response", $"HTTP {status} without messages[0].id");
    }

    private SendOutcome Error(HttpResponseMessage response, int? code) =>
        WhatsAppErrors.Map(code, (int)response.StatusCode, ConnectorHttp.RetryAfter(response, time));

    private static string DigitsOnly(string address)
    {
        Span<char> buffer = address.Length <= 64 ? stackalloc char[address.Length] : new char[address.Length];
        var n = 0;
        foreach (var ch in address)
        {
            if (char.IsAsciiDigit(ch))
            {
                buffer[n++] = ch;
            }
        }

        return new string(buffer[..n]);
    }

    /// <summary>The Cloud API's interactive body text limit.</summary>
    internal const int InteractiveBodyMax = 1024;

    /// <summary>Whether the choices can go as reply buttons: at most 3, titles within 20 characters, body within 1024.</summary>
    internal static bool AsButtons(OutboundMessage message) =>
        message.Actions.Count is > 0 and <= ReplyActions.MaxActions
        && message.Text.Length is > 0 and <= InteractiveBodyMax
        && message.Actions.All(static a => ReplyActions.TitleLength(a.Title) <= ReplyActions.WhatsAppMaxTitleLength);

    internal static byte[] WriteBody(OutboundMessage message, string to)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + message.Text.Length * 2);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("messaging_product", "whatsapp");
            w.WriteString("recipient_type", "individual");
            w.WriteString("to", to);
            if (message.Template is { } template)
            {
                w.WriteString("type", "template");
                w.WriteStartObject("template");
                w.WriteString("name", template.Name);
                w.WriteStartObject("language");
                w.WriteString("code", template.Language);
                w.WriteEndObject();
                if (template.BodyParameters.Count > 0)
                {
                    w.WriteStartArray("components");
                    w.WriteStartObject();
                    w.WriteString("type", "body");
                    w.WriteStartArray("parameters");
                    foreach (var parameter in template.BodyParameters)
                    {
                        w.WriteStartObject();
                        w.WriteString("type", "text");
                        w.WriteString("text", parameter);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }
            else if (AsButtons(message))
            {
                // Interactive reply buttons (Cloud API "Interactive reply buttons messages"): the tapped button's id comes
                // back in a messages webhook as interactive.button_reply.id, with context.id naming this message's wamid.
                w.WriteString("type", "interactive");
                w.WriteStartObject("interactive");
                w.WriteString("type", "button");
                w.WriteStartObject("body");
                w.WriteString("text", message.Text);
                w.WriteEndObject();
                w.WriteStartObject("action");
                w.WriteStartArray("buttons");
                foreach (var action in message.Actions)
                {
                    w.WriteStartObject();
                    w.WriteString("type", "reply");
                    w.WriteStartObject("reply");
                    w.WriteString("id", action.Id);
                    w.WriteString("title", action.Title);
                    w.WriteEndObject();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteEndObject();
            }
            else
            {
                w.WriteString("type", "text");
                w.WriteStartObject("text");
                // Choices that cannot be buttons are stated as text, so the customer can still answer.
                w.WriteString("body", message.Actions.Count > 0 && message.ActionsText is { } choices ? message.Text + "\n\n" + choices : message.Text);
                w.WriteEndObject();
            }

            // Echoed back in status webhooks: lets a receipt be correlated with the attempt even before the wamid
            // is stored.
            w.WriteString("biz_opaque_callback_data", message.AttemptId.ToString("N"));
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
