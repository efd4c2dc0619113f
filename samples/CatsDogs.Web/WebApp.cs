using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.StaticFiles;
using BadHttpRequestException = Microsoft.AspNetCore.Http.BadHttpRequestException;

namespace CatsDogs.Web;

/// <summary>
/// The web app: one page (<c>wwwroot/</c>) and a JSON API over a trained classifier. Photos are read into memory and
/// scored there, never written to disk. Every error is JSON, RFC 9457 problem details, never a 500 for anything a
/// client sends: a malformed upload 400, a slow one 408, a photo over the size limit 413, a photo that is not one 422
/// (with the library's reason), the scoring queue full or the wait over 429 with Retry-After, 404 / 405 / 414 / 431 alike.
/// </summary>
public static class WebApp
{
    /// <summary>Longest path and query the app accepts (414 beyond, as problem details).</summary>
    public const int MaxRequestTarget = 8 * 1024;

    /// <summary>Most header bytes the app accepts (431 beyond, as problem details).</summary>
    public const int MaxRequestHeaderBytes = 32 * 1024;

    /// <summary>Most headers the app accepts (431 beyond, as problem details).</summary>
    public const int MaxRequestHeaderCount = 100;

    /// <summary>
    /// The Content-Security-Policy every response carries; the page satisfies it (no inline script or style). The live
    /// mode adds only what onnxruntime-web needs: compiling WebAssembly (<c>'wasm-unsafe-eval'</c>) and workers from the
    /// app itself.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; "
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
        builder.Services.AddSingleton<ScoringSlots>();
        builder.Services.AddSingleton<BrowserModel>();
        builder.Services.AddProblemDetails(problems => problems.CustomizeProblemDetails = context =>
        {
            // Kestrel's own refusals (body too large, too slow) keep their status and say what happened; anything
            // else unexpected is a 500 whose details stay in the log.
            if (context.Exception is BadHttpRequestException bad)
            {
                context.ProblemDetails.Status = context.HttpContext.Response.StatusCode = bad.StatusCode;
                context.ProblemDetails.Detail = bad.Message;
            }
        });
        builder.Services.AddHealthChecks().AddCheck<ModelHealthCheck>("model");
        builder.Services.AddOptions<KestrelServerOptions>().Configure<WebOptions>((k, options) =>
        {
            k.Limits.MaxRequestBodySize = options.MaxRequestBytes;
            k.Limits.MinRequestBodyDataRate = options.MinUploadBytesPerSecond == 0 ? null : new MinDataRate(options.MinUploadBytesPerSecond, TimeSpan.FromSeconds(5));

            // Kestrel refuses requests over its own limits with an empty body; its limits sit above the app's, which
            // the middleware below enforces with problem details.
            k.Limits.MaxRequestLineSize = 4 * MaxRequestTarget;
            k.Limits.MaxRequestHeadersTotalSize = 4 * MaxRequestHeaderBytes;
            k.Limits.MaxRequestHeaderCount = 4 * MaxRequestHeaderCount;
        });
        builder.Services.Configure<ForwardedHeadersOptions>(f => f.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto);

        var app = builder.Build();
        app.Services.GetRequiredService<Scorer>(); // load the model now: a bad model stops the start, not the first request
        app.UseForwardedHeaders();
        app.UseExceptionHandler(new ExceptionHandlerOptions { StatusCodeSelector = e => e is BadHttpRequestException bad ? bad.StatusCode : 500 });
        app.UseStatusCodePages();
        app.Use(async (context, next) =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers["Permissions-Policy"] = "camera=(self), microphone=()";

            // Cross-origin isolation, so that onnxruntime-web's WebAssembly may use threads (SharedArrayBuffer).
            headers["Cross-Origin-Opener-Policy"] = "same-origin";
            headers["Cross-Origin-Embedder-Policy"] = "require-corp";
            headers["Cross-Origin-Resource-Policy"] = "same-origin";
            if (RequestTooLarge(context.Request) is { } refusal)
            {
                await TypedResults.Problem(refusal.Detail, statusCode: refusal.Status).ExecuteAsync(context);
                return;
            }

            await next(context);
        });
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions { ContentTypeProvider = ContentTypes() });
        Api.Map(app);
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { ResponseWriter = ModelHealthCheck.WriteAsync });
        return app;
    }

    // A request line or headers over the app's limits (414 / 431, with problem details).
    private static UploadRefusal? RequestTooLarge(HttpRequest request)
    {
        var target = request.Path.Value?.Length + request.QueryString.Value?.Length ?? 0;
        if (target > MaxRequestTarget)
        {
            return new UploadRefusal(414, $"The URL is {target:N0} characters long; at most {MaxRequestTarget:N0} are allowed.");
        }

        var headerBytes = request.Headers.Sum(h => h.Key.Length + 4 + h.Value.Sum(v => v?.Length ?? 0));
        return request.Headers.Count > MaxRequestHeaderCount || headerBytes > MaxRequestHeaderBytes
            ? new UploadRefusal(431, $"The request has {request.Headers.Count} headers of {headerBytes:N0} bytes; at most {MaxRequestHeaderCount} headers of {MaxRequestHeaderBytes:N0} bytes in all are allowed.")
            : null;
    }

    // The page's files, onnxruntime-web's modules (.mjs) and WebAssembly among them.
    private static FileExtensionContentTypeProvider ContentTypes()
    {
        var types = new FileExtensionContentTypeProvider();
        types.Mappings[".mjs"] = "text/javascript";
        types.Mappings[".wasm"] = "application/wasm";
        return types;
    }

    // wwwroot beside the app (published or run from the project).
    private static string WebRoot()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        return Directory.Exists(beside) ? beside : Path.Combine(Directory.GetCurrentDirectory(), "wwwroot");
    }
}

