using System.Collections.Frozen;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.Storage;

namespace Herald.Server.Authentication;

/// <summary>
/// What a <c>viewer</c> key reads (the console's role): every JSON answer, whatever endpoint wrote it, with customers'
/// contacts and any secret replaced by <see cref="Mask"/>. One guard over every answer rather than a check in each
/// view, so a GET family added later is redacted too. Only requests of a viewer that holds no other reading role pay
/// for it (the answer is buffered and rewritten); a key with <c>read</c> or <c>admin</c> as well reads as those do.
/// </summary>
public sealed class ViewerRedaction(RequestDelegate next)
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

    /// <summary>Masks every non-null value under a <see cref="Redacted"/> name, at any depth.</summary>
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
                    else
                    {
                        Redact(obj[name]);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    Redact(item);
                }

                break;
        }
    }
}
