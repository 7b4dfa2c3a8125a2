package demo;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;

/** A generic base: the event's type is the subclass's type argument. */
public abstract class BaseHandler<T> implements RequestHandler<T, String> {
    @Override
    public String handleRequest(T input, Context context) {
        return describe(input);
    }

    protected abstract String describe(T input);
}
