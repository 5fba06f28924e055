// Runs the provider sandbox alone: dotnet run --project src/Herald.Sandbox -- --urls http://127.0.0.1:5090
// (add --Herald:Sandbox:SmtpPort=2525 for a fixed SMTP port; by default it picks a free one, shown at /sandbox/smtp)
// Same options as in-process (Herald:Sandbox:*). Without Herald:Sandbox:CallbackBaseUrl the status webhooks come
// back to this process, where a sink acknowledges them so receipts flow in a standalone demo.
using Herald.Sandbox;

var builder = WebApplication.CreateBuilder(args);
if (string.IsNullOrWhiteSpace(builder.Configuration["Herald:Sandbox:CallbackBaseUrl"]))
{
    // Receipts come back to the sink below, which checks no signature: a throwaway secret signs them. In front of a
    // Herald, configure Herald:Sandbox:AppSecret as the app secret / bounce token of the accounts it serves.
    builder.Configuration["Herald:Sandbox:AppSecret"] ??= Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
}

builder.Services.AddHeraldSandbox(builder.Configuration);
var app = builder.Build();
app.MapGet("/", () => "Herald sandbox: WhatsApp Cloud API at /sandbox/whatsapp, Telegram Bot API at /sandbox/telegram, Twilio SMS at /sandbox/sms, SMTP: see /sandbox/smtp, SMPP: see /sandbox/smpp");
app.MapHeraldSandbox();
if (string.IsNullOrWhiteSpace(builder.Configuration["Herald:Sandbox:CallbackBaseUrl"]))
{
    app.MapPost("/callbacks/whatsapp", () => Results.Ok());
}

await app.RunAsync();
