using Herald.Core.Notifications;

namespace Herald.Core.Templates;

/// <summary>
/// How much one rendering may produce and spend, per channel, as the vendors define their messages. The one place for
/// these numbers (docs/TEMPLATES.md "Limits" lists them with the same sources). The output caps are enforced while
/// rendering, by the writer the template writes into, so a template that would produce more stops at the cap instead
/// of filling the shared heap first.
/// </summary>
public static class TemplateLimits
{
    /// <summary>WhatsApp Cloud API, text message: <c>text.body</c> is at most 4,096 characters (Meta, "Messages
    /// reference"). Each approved template parameter is held to the same cap.</summary>
    public const int WhatsAppText = 4096;

    /// <summary>Telegram Bot API <c>sendMessage</c>: <c>text</c> is 1-4,096 characters after entities parsing.</summary>
    public const int TelegramText = 4096;

    /// <summary>At most this many SMS segments per message (carriers and Twilio bill each; Twilio refuses bodies over
    /// 1,600 characters). Checked exactly (GSM 03.38 or UCS-2) after rendering by the SMS composer.</summary>
    public const int SmsSegments = 10;

    /// <summary>The render-time cap of an SMS text: <see cref="SmsSegments"/> concatenated GSM 03.38 parts of 153
    /// septets each (3GPP TS 23.040). A Unicode text is held to 10 UCS-2 parts (670) after rendering.</summary>
    public const int SmsText = SmsSegments * 153;

    /// <summary>RFC 5322 §2.1.1: a header line is at most 998 characters.</summary>
    public const int EmailSubject = 998;

    /// <summary>An email's text part and HTML part, each: 1 MiB of characters. Herald's own ceiling (relays cap whole
    /// messages at 10-35 MB; Gmail already clips an HTML part over 102 KB).</summary>
    public const int EmailBody = 1024 * 1024;

    /// <summary>FCM HTTP v1: a message's payload is at most 4,096 bytes; the rendered text is held to that many UTF-8
    /// bytes (a stricter check of the whole payload is the connector's).</summary>
    public const int PushBytes = 4096;

    /// <summary>The smallest cap on a value a template builds (assign, capture, a filter's result): room for a long
    /// data field to pass through a filter even on a channel whose output is short.</summary>
    public const int MinValueLength = 64 * 1024;

    /// <summary>The longest range (<c>(1..n)</c>) a template may build: as many numbers as it has steps.</summary>
    public const int MaxRange = TemplateRenderer.MaxSteps;

    /// <summary>The widest padding a <c>date</c> format may ask for (<c>%10d</c>); Ruby's strftime widths are
    /// unbounded, so <c>%99999999Y</c> would otherwise write 100 million characters.</summary>
    public const int MaxDateWidth = 64;

    /// <summary>Wall-clock budget of one rendering (all parts of a template). A template renders in well under a
    /// millisecond; only one that spends its step budget on heavy filters comes near.</summary>
    public static readonly TimeSpan RenderTime = TimeSpan.FromSeconds(2);

    /// <summary>The output cap of one part (<c>body</c>, <c>subject</c>, <c>html</c>, <c>whatsApp/parameters/{i}</c>)
    /// of a template for <paramref name="channel"/>.</summary>
    public static OutputCap Output(Channel channel, string field) => channel switch
    {
        Channel.WhatsApp => new(WhatsAppText, false, "characters (WhatsApp's text limit)"),
        Channel.Telegram => new(TelegramText, false, "characters (Telegram's message limit)"),
        Channel.Sms => new(SmsText, false, $"characters ({SmsSegments} SMS segments)"),
        Channel.Email when field == "subject" => new(EmailSubject, false, "characters (an email header line)"),
        Channel.Email => new(EmailBody, false, "characters (Herald's email part limit)"),
        Channel.Push => new(PushBytes, true, "UTF-8 bytes (FCM's payload limit)"),
        _ => new(TelegramText, false, "characters"),
    };
}

/// <summary>How much one part of a rendered template may hold.</summary>
/// <param name="Max">Characters (UTF-16 code units), or UTF-8 bytes when <paramref name="Utf8Bytes"/>.</param>
/// <param name="Unit">How the cap reads in an error, after the number: "characters (10 SMS segments)".</param>
public sealed record OutputCap(int Max, bool Utf8Bytes, string Unit)
{
    /// <summary>The cap on values a template builds while rendering this part (see <see cref="TemplateLimits.MinValueLength"/>).</summary>
    public int ValueCap => Math.Max(Max, TemplateLimits.MinValueLength);
}

/// <summary>A rendering broke one of <see cref="TemplateLimits"/>: it was stopped where it broke it, not afterwards.
/// At send time it fails the one notification's attempt permanently with <see cref="Code"/>; at save time and in a dry
/// run it is a located problem.</summary>
public sealed class TemplateLimitException(string code, string message) : Exception(message)
{
    /// <summary>The output or a value grew past its cap.</summary>
    public const string TooLarge = "template_too_large";

    /// <summary>The rendering ran out of steps, recursion, range length or time.</summary>
    public const string Budget = "template_budget";

    /// <summary><see cref="TooLarge"/> or <see cref="Budget"/>.</summary>
    public string Code { get; } = code;

    /// <summary>The part that broke the limit ("body", "subject", "html", "whatsApp/parameters/0"); set by the renderer.</summary>
    public string Field { get; init; } = "";
}
