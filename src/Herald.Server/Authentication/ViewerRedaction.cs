using System.Collections.Frozen;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Herald.Storage;

namespace Herald.Server.Authentication;

/// <summary>
/// What a <c>viewer</c> key reads (the console's role): every JSON answer, whatever endpoint wrote it, with customers'
/// contacts and any secret replaced by <see cref="Mask"/> (by member name, and phone numbers and e-mail addresses inside
/// any other text). One guard over every answer rather than a check in each
/// view, so a GET family added later is redacted too. Only requests of a viewer that holds no other reading role pay
/// for it (the answer is buffered and rewritten); a key with <c>read</c> or <c>admin</c> as well reads as those do.
/// </summary>
public sealed partial class ViewerRedaction(RequestDelegate next)
{
    public const string Mask = "[redacted]";

    /// <summary>JSON member names (camelCase, as Herald writes them) whose values a viewer never sees.</summary>
    public static readonly FrozenSet<string> Redacted = FrozenSet.ToFrozenSet(
    [
        // Customers' contacts (CustomerView, inline contacts, sandbox-like echoes).
        "phone", "email", "telegramChatId", "chatId", "pushToken", "to", "address",
        // Secrets (webhook and source signing secrets, keys, provider credentials should any be echoed).
        "secret", "signingSecret", "key", "token", "password", "apiKey", "authToken",
    ], StringComparer.OrdinalIgnoreCase);

    public async Task InvokeAsync(HttpContext context)
    {
        if (!IsViewerOnly(context.User))
        {
            await next(context);
            return;
        }

        var original = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = original;
        }

        buffer.Position = 0;
        if (buffer.Length > 0 && context.Response.ContentType is { } type && type.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            var node = await JsonNode.ParseAsync(buffer, cancellationToken: context.RequestAborted);
            Redact(node);
            using var rewritten = new MemoryStream();
            await using (var writer = new Utf8JsonWriter(rewritten))
            {
                if (node is null)
                {
                    writer.WriteNullValue();
                }
                else
                {
                    node.WriteTo(writer);
                }
            }

            context.Response.ContentLength = rewritten.Length;
            rewritten.Position = 0;
            await rewritten.CopyToAsync(original, context.RequestAborted);
            return;
        }

        await buffer.CopyToAsync(original, context.RequestAborted);
    }

    /// <summary>A viewer that holds no role which may read contacts.</summary>
    public static bool IsViewerOnly(ClaimsPrincipal user) =>
        user.IsInRole(Roles.Viewer) && !user.IsInRole(Roles.Read) && !user.IsInRole(Roles.Admin) && !user.IsInRole(Roles.Send) && !user.IsInRole(Roles.System);

    /// <summary>Masks every non-null value under a <see cref="Redacted"/> name, at any depth, and phone numbers (E.164)
    /// and e-mail addresses inside any other text (a provider's error message may quote the address it refused).</summary>
    public static void Redact(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var name in obj.Select(p => p.Key).ToList())
                {
                    if (Redacted.Contains(name) && obj[name] is not null)
                    {
                        obj[name] = Mask;
                    }
                    else if (MaskedText(obj[name]) is { } masked)
                    {
                        obj[name] = masked;
                    }
                    else
                    {
                        Redact(obj[name]);
                    }
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (MaskedText(array[i]) is { } masked)
                    {
                        array[i] = masked;
                    }
                    else
                    {
                        Redact(array[i]);
                    }
                }

                break;
        }
    }

    /// <summary>The text of a string node with contacts masked; null when it is no string or holds none.</summary>
    private static string? MaskedText(JsonNode? node)
    {
        if (node is not JsonValue value || !value.TryGetValue<string>(out var text))
        {
            return null;
        }

        var masked = ContactPattern().Replace(text, Mask);
        return ReferenceEquals(masked, text) || masked == text ? null : masked;
    }

    // E.164 numbers (a timestamp's "+01:00" has too few digits) and e-mail addresses; linear time on any text.
    [GeneratedRegex(@"\+[1-9][0-9]{6,14}|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", RegexOptions.CultureInvariant | RegexOptions.NonBacktracking)]
    private static partial Regex ContactPattern();
}
