namespace Herald.Ingest;

/// <summary>One located problem with a bank's input.</summary>
/// <param name="Pointer">Where: a JSON Pointer (RFC 6901) into the request body, e.g. "/customer/phone" or "/items/3/type".</param>
public sealed record InputError(string Pointer, string Detail);
