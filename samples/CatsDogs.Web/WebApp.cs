using System.Globalization;
using System.Threading.RateLimiting;
using CatsDogs.ML;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.RateLimiting;

namespace CatsDogs.Web;

/// <summary>
/// The web app: one page (<c>wwwroot/</c>) and a JSON API over a trained classifier. Photos are scored from memory,
/// never written to disk. Limits answer with a JSON error, never a 500: a photo over the size limit 413, a photo that
/// is not one 422 (with the library's reason), more concurrent requests than allowed 429 with Retry-After.
/// </summary>
public static class WebApp
{
    /// <summary>The concurrency limiter's policy name.</summary>
    public const string ScoringPolicy = "scoring";

    /// <summary>The Content-Security-Policy every response carries; the page satisfies it (no inline script or style).</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>Builds the app from its command line; without <c>--urls</c> it listens on http://127.0.0.1:5080 only.</summary>
    /// <exception cref="ArgumentException">No model is given, or an option is out of range.</exception>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, WebRootPath = WebRoot() });
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls("http://127.0.0.1:5080");
        }

        // Options are read when first needed, so that a test host's settings (WebApplicationFactory) count too.
        builder.Services.AddSingleton(services => WebOptions.From(services.GetRequiredService<IConfiguration>()));
        builder.Services.AddSingleton<Scorer>();
        builder.Services.AddOptions<FormOptions>().Configure<WebOptions>((f, options) =>
        {
            f.MultipartBodyLengthLimit = RequestLimit(options);
            f.ValueCountLimit = options.MaxPhotosPerRequest + 16;
        });
        builder.Services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>().Configure<WebOptions>((k, options) => k.Limits.MaxRequestBodySize = RequestLimit(options));
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<WebOptions>((limiter, options) =>
        {
            limiter.AddConcurrencyLimiter(ScoringPolicy, o =>
            {
                o.PermitLimit = options.MaxConcurrentRequests;
                o.QueueLimit = 0;
            });
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = async (context, token) =>
            {
                context.HttpContext.Response.Headers.RetryAfter = "1";
                await context.HttpContext.Response.WriteAsJsonAsync(new ApiError($"More than {options.MaxConcurrentRequests} requests at once; retry in a second."), token);
            };
        });
        builder.Services.Configure<ForwardedHeadersOptions>(f => f.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto);

        var app = builder.Build();
        var options = app.Services.GetRequiredService<WebOptions>();
        app.Services.GetRequiredService<Scorer>(); // load the model now: a bad model stops the start, not the first request
        app.UseForwardedHeaders();
        app.UseExceptionHandler(error => error.Run(async context =>
        {
            var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            var (status, message) = exception switch
            {
                BadHttpRequestException { StatusCode: 413 } => (413, $"The request is larger than the limit of {options.MaxPhotosPerRequest} photos of {options.MaxPhotoBytes:N0} bytes."),
                BadHttpRequestException bad => (bad.StatusCode, bad.Message),
                InvalidDataException data => (413, $"The upload is too large or malformed: {data.Message}"),
                _ => (500, "The server failed; the error is in its log."),
            };
            context.Response.StatusCode = status;
            await context.Response.WriteAsJsonAsync(new ApiError(message));
        }));
        app.Use(async (context, next) =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers["Permissions-Policy"] = "camera=(self), microphone=()";
            await next(context);
        });
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseRateLimiter();
        Api.Map(app);
        return app;
    }

    // The whole request may hold the most photos of the largest size, plus their multipart headers.
    private static long RequestLimit(WebOptions options) => (options.MaxPhotoBytes + 65536) * options.MaxPhotosPerRequest;

    // wwwroot beside the app (published or run from the project).
    private static string WebRoot()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        return Directory.Exists(beside) ? beside : Path.Combine(Directory.GetCurrentDirectory(), "wwwroot");
    }
}

/// <summary>An error answer: <c>{"error": "…"}</c>.</summary>
public sealed record ApiError(string Error);
